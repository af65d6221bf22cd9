"""Load an open_clip model: what to hand `create_model_and_transforms`, and whether the hub may be asked.

open_clip resolves the weights itself (a `pretrained` tag from its registry, a checkpoint file, a `hf-hub:` or
`local-dir:` model name; `add_model_config` for architectures of our own). This module adds only what it lacks:
whether the hub may be asked at all (never under HF_HUB_OFFLINE=1, nor when it does not answer within a second
or two: open_clip then sees the hub offline and reads its caches), and one ModelUnavailable with the remedy
when the weights or the tokenizer are not there. `pretrained="random"` builds the architecture with random
weights, for tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmrag.errors import ModelUnavailable
from mmrag.models.resolve import hub_cache_dir, hub_offline, hub_reachable

RANDOM = "random"
ROLE = "image"
_CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".npz")
# open_clip's own preference when a folder holds several checkpoints
_CHECKPOINT_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                     "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth", "model.safetensors",
                     "pytorch_model.bin")


@dataclass
class OpenClipParts:
    """What `load_open_clip` returns: the model, its eval transform, its tokenizer, and a stable weights label."""

    model: Any
    preprocess: Any
    tokenizer: Any
    label: str  # the fingerprint's "pretrained": stable when the index or the weights move


def load_open_clip(model: str, pretrained: str | None, device: str) -> OpenClipParts:
    """Build an open_clip model and tokenizer; the hub is asked only when reachable and HF_HUB_OFFLINE is unset.

    pretrained: an open_clip tag (from open_clip's caches, downloaded only when online), a checkpoint file,
    a directory (HF open_clip layout or holding a checkpoint), "hf-hub:org/name", or "random".
    Raises ModelUnavailable with the remedy when the weights or tokenizer cannot be had.
    """
    import open_clip

    online = hub_reachable()
    source = _source(model, pretrained, online)
    # The hub cache as the environment names it now (huggingface_hub fixes its default at import).
    cache_dir = None if source.url_only else str(hub_cache_dir())
    with _quiet_open_clip():
        # The tokenizer first: a SigLIP tokenizer missing from the cache should fail before a model is built.
        try:
            with _hub_offline(not online):
                tokenizer = open_clip.get_tokenizer(source.model_name, cache_dir=str(hub_cache_dir()))
        except Exception as exc:
            raise _tokenizer_unavailable(source, model, exc) from exc
        try:
            with _hub_offline(not online or source.local):
                net, _, preprocess = open_clip.create_model_and_transforms(
                    source.model_name, pretrained=source.pretrained, device=device, cache_dir=cache_dir
                )
        except Exception as exc:  # open_clip raises RuntimeError/OSError/ValueError for missing pieces
            # Offline, open_clip only says it could not download: the remedy says all there is to say.
            detail = f" (open_clip: {_first_line(exc)})" if online or source.local else ""
            raise ModelUnavailable(model, ROLE, _remedy(model, str(pretrained)) + detail) from exc
    return OpenClipParts(net, preprocess, tokenizer, source.label)


def raise_if_missing_offline(model: str, pretrained: str | None) -> None:
    """Fail fast, importing neither torch nor open_clip (~5 s, ~0.7 GB), when an open_clip tag's weights cannot
    be had: the tag's hub repository has no folder in the Hugging Face cache and the hub does not answer (or
    HF_HUB_OFFLINE is set). Raises the ModelUnavailable `load_open_clip` would; anything less certain (files,
    folders, hf-hub names, tags fetched by URL, a registry this cannot read) is left to `load_open_clip`.
    """
    if not pretrained or pretrained == RANDOM or "hf-hub:" in model + pretrained or model.startswith("local-dir:"):
        return
    if os.sep in pretrained or pretrained.endswith(_CHECKPOINT_SUFFIXES) or Path(pretrained).expanduser().exists():
        return
    repo = _registry_repo(model, pretrained)
    if repo is None or (hub_cache_dir() / ("models--" + repo.replace("/", "--"))).is_dir():
        return
    if hub_reachable():  # False at once under HF_HUB_OFFLINE
        return
    raise ModelUnavailable(model, ROLE, _remedy(model, pretrained))


def _registry_repo(model: str, pretrained: str) -> str | None:
    """The hub repository open_clip's registry names for a (model, tag), read without importing open_clip."""
    registry = _open_clip_registry()
    if registry is None:
        return None
    try:
        repo = registry.get_pretrained_cfg(model, pretrained).get("hf_hub") or ""
    except Exception:  # noqa: BLE001 - an unexpected registry shape: let open_clip itself decide
        return None
    return repo.strip("/") or None


@functools.cache
def _open_clip_registry() -> types.ModuleType | None:
    """open_clip's `pretrained.py` (a table and a few lookups), loaded on its own: `import open_clip` imports torch."""
    try:
        spec = importlib.util.find_spec("open_clip")
        folder = Path((spec.submodule_search_locations or [])[0]) if spec else None
        if folder is None or not (folder / "pretrained.py").is_file():
            return None
        package = types.ModuleType("_mmrag_open_clip_registry")
        package.__path__ = [str(folder)]  # its relative imports (.constants, .version) resolve in open_clip's folder
        sys.modules[package.__name__] = package
        module = types.ModuleType(f"{package.__name__}.pretrained")
        module.__package__, module.__file__ = package.__name__, str(folder / "pretrained.py")
        sys.modules[module.__name__] = module
        # Its one heavy import (safetensors.torch, for loading, which this copy never does) is left out.
        source = (folder / "pretrained.py").read_text().replace("import safetensors.torch", "raise ImportError")
        exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - open_clip's own file
        return module
    except Exception:  # noqa: BLE001 - any surprise: the full load path decides
        return None


@dataclass
class _Source:
    """open_clip's arguments (a model name, maybe `hf-hub:`/`local-dir:`, and `pretrained`) and our label."""

    model_name: str
    pretrained: str | None  # a tag or a checkpoint file; None for random weights or a schema'd model name
    label: str  # the fingerprint's "pretrained": stable when the index or the weights move
    local: bool = True  # the weights are on disk (or random): building the model never asks the hub
    url_only: bool = False  # a tag hosted outside the hub: open_clip caches it in ~/.cache/clip, not the HF cache


def _remedy(model: str, pretrained: str) -> str:
    return (
        f"download once with `python -c \"import open_clip; open_clip.create_model_and_transforms('{model}', "
        f"pretrained='{pretrained}')\"` on a machine with internet (then copy ~/.cache/huggingface), "
        "or pass --image-pretrained /path/to/open_clip_pytorch_model.bin"
    )


def _path_label(path: Path) -> str:
    # The file's name and size, not its absolute path: moving an index or the weights is no reason to re-embed.
    return f"{path.name}:{path.stat().st_size}" if path.is_file() else path.name


def _checkpoint_in(folder: Path) -> Path | None:
    files = sorted(p for p in folder.iterdir() if p.suffix in _CHECKPOINT_SUFFIXES and p.is_file())
    return next((folder / n for n in _CHECKPOINT_NAMES if (folder / n).is_file()), files[0] if files else None)


def _source(model: str, pretrained: str | None, online: bool) -> _Source:
    """Check what can be checked without loading anything; ModelUnavailable names what is missing."""
    import open_clip

    if pretrained is None:
        raise ValueError("pretrained=None is ambiguous; pass a tag, a path, or 'random' for random weights")
    if model.startswith("local-dir:"):
        return _Source(model, None, Path(model[len("local-dir:") :]).name)
    if model.startswith("hf-hub:") or pretrained.startswith("hf-hub:"):
        name = model if model.startswith("hf-hub:") else pretrained
        return _Source(name, None, name, local=False)
    if pretrained == RANDOM:
        if model not in open_clip.list_models():
            raise ModelUnavailable(model, ROLE, "unknown open_clip architecture (see open_clip.list_models())")
        return _Source(model, None, RANDOM)
    path = Path(pretrained).expanduser()
    if path.is_dir():
        if (path / "open_clip_config.json").is_file():
            return _Source(f"local-dir:{path.resolve()}", None, path.name)
        checkpoint = _checkpoint_in(path)
        if checkpoint is None:
            raise ModelUnavailable(model, ROLE, f"no open_clip checkpoint (*.safetensors, *.bin, *.pt) in {path}")
        return _Source(model, str(checkpoint), _path_label(checkpoint))
    if path.is_file():
        return _Source(model, str(path), _path_label(path))
    if os.sep in pretrained or pretrained.endswith(_CHECKPOINT_SUFFIXES):
        raise ModelUnavailable(model, ROLE, f"no such checkpoint file or directory: {pretrained}")
    if model not in open_clip.list_models():
        raise ModelUnavailable(model, ROLE, "unknown open_clip architecture (see open_clip.list_models())")
    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise ModelUnavailable(f"{model}/{pretrained}", ROLE, f"unknown pretrained tag; tags for {model}: {tags}")
    url_only = not cfg.get("hf_hub") and not cfg.get("file")
    if url_only and not online:
        # open_clip would fetch the URL with urllib, which knows nothing of HF_HUB_OFFLINE: look first
        if not (Path.home() / ".cache" / "clip" / os.path.basename(cfg.get("url", ""))).is_file():
            raise ModelUnavailable(f"{model}/{pretrained}", ROLE, _remedy(model, pretrained))
    return _Source(model, pretrained, pretrained, local=False, url_only=url_only)


_OFFLINE_LOCK = threading.Lock()


@contextlib.contextmanager
def _hub_offline(active: bool) -> Iterator[None]:
    """Force huggingface_hub (and transformers, which asks it) offline: cached files only, no request."""
    if not active:
        yield
        return
    import huggingface_hub.constants as hub_constants

    with _OFFLINE_LOCK:
        previous = hub_constants.HF_HUB_OFFLINE
        hub_constants.HF_HUB_OFFLINE = True
        try:
            yield
        finally:
            hub_constants.HF_HUB_OFFLINE = previous


class _DropOpenClipLogs(logging.Filter):
    """open_clip logs each failed lookup at ERROR on the root logger; the ModelUnavailable we raise says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"{os.sep}open_clip{os.sep}" not in record.pathname


@contextlib.contextmanager
def _quiet_open_clip() -> Iterator[None]:
    root, quiet = logging.getLogger(), _DropOpenClipLogs()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def _tokenizer_repo(source: _Source) -> str | None:
    """The hub repo a tokenizer comes from: the hf-hub model itself, or the config's `hf_tokenizer_name`."""
    import open_clip

    if source.model_name.startswith("hf-hub:"):
        return source.model_name[len("hf-hub:") :]
    cfg = open_clip.get_model_config(source.model_name) or {}
    return cfg.get("text_cfg", {}).get("hf_tokenizer_name") or None


def _tokenizer_unavailable(source: _Source, model: str, exc: Exception) -> ModelUnavailable:
    repo = _tokenizer_repo(source)
    whole = source.model_name.startswith("hf-hub:")  # config, tokenizer and weights in one repo
    return ModelUnavailable(
        source.model_name if whole else (repo or model), ROLE if whole else "image tokenizer",
        f"not in the Hugging Face cache ({hub_cache_dir()}) and the hub is "
        f"{'offline (HF_HUB_OFFLINE=1)' if hub_offline() else 'not answering'}; run "
        f"`huggingface-cli download {repo or '<repo>'}` on a machine with internet, or pass a local directory "
        f"({_first_line(exc)})",
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
