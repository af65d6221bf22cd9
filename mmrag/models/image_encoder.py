"""Image-text encoders for the image channel: the ImageEncoder protocol and an offline-first open_clip loader.

Weights resolve in this order and never touch the network when HF_HUB_OFFLINE=1:
a local checkpoint file or directory, an `hf-hub:` repo or open_clip tag found in the local caches,
then (only when online and the hub answers within a second or two) open_clip's own download.
`pretrained="random"` builds the architecture with random weights, for tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlparse

import numpy as np
from PIL import Image

from mmrag.errors import ModelUnavailable
from mmrag.models.resolve import hub_offline, resolve_device

log = logging.getLogger(__name__)

RANDOM = "random"
ROLE = "image"
_CHECKPOINT_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
)
_CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".npz")


@runtime_checkable
class ImageEncoder(Protocol):
    """Embeds images and texts into one space; rows are float32 and L2-normalised."""

    name: str
    dim: int

    def model_inputs(self, images: Sequence[Image.Image]) -> Any:
        """The preprocessed, normalised batch on the device, exactly as encode_images feeds the model."""
        return self._torch.cat([self._to_model_input(b) for b in self._prefetched_batches(images)])

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...

    def fingerprint(self) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------------------------
# weight resolution
# ---------------------------------------------------------------------------------------------


@dataclass
class _Source:
    """What to hand open_clip: a model name (maybe `local-dir:`/`hf-hub:`), a checkpoint, overrides."""

    model_name: str
    checkpoint: str | None
    local: bool  # everything is on disk: open_clip runs with the hub forced offline
    preprocess: dict[str, Any] = field(default_factory=dict)
    fingerprint_pretrained: str = ""


def _hub_cache() -> Path:
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return Path(os.environ.get("HF_HUB_CACHE", home / "hub"))


def _cached_file(repo_id: str, filename: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(_hub_cache()))
    return found if isinstance(found, str) and os.path.isfile(found) else None


def _cached_snapshot(repo_id: str, needs: str) -> str | None:
    """A cached snapshot directory of a hub repo that holds the file `needs`."""
    found = _cached_file(repo_id, needs)
    return str(Path(found).parent) if found else None


def _reachable(url: str, timeout: float = 1.5) -> bool:
    """Whether a TCP connection to the host (or the https proxy) opens quickly; avoids minute-long retries."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    parsed = urlparse(proxy or url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    if not host:
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def _can_download(url: str | None = None) -> bool:
    return not hub_offline() and _reachable(url or _hub_endpoint())


def _remedy(model: str, pretrained: str) -> str:
    return (
        f"download once with `python -c \"import open_clip; open_clip.create_model_and_transforms('{model}', "
        f"pretrained='{pretrained}')\"` on a machine with internet (then copy ~/.cache/huggingface), "
        "or pass --image-pretrained /path/to/open_clip_pytorch_model.bin"
    )


def _find_checkpoint(directory: Path) -> str | None:
    for name in _CHECKPOINT_NAMES:
        if (directory / name).is_file():
            return str(directory / name)
    files = sorted(p for p in directory.iterdir() if p.suffix in _CHECKPOINT_SUFFIXES and p.is_file())
    return str(files[0]) if files else None


def _path_fingerprint(path: Path) -> str:
    # The file's name and size, not its absolute path: moving an index or the weights is no reason to re-embed.
    return f"{path.name}:{path.stat().st_size}" if path.is_file() else path.name


def _resolve(model: str, pretrained: str | None) -> _Source:
    import open_clip

    if pretrained is None:
        raise ValueError("pretrained=None is ambiguous; pass a tag, a path, or 'random' for random weights")
    if model.startswith("local-dir:"):
        return _Source(model, None, True, fingerprint_pretrained=Path(model[len("local-dir:") :]).name)
    if model.startswith("hf-hub:") or pretrained.startswith("hf-hub:"):
        repo = (model if model.startswith("hf-hub:") else pretrained)[len("hf-hub:") :]
        snap = _cached_snapshot(repo, "open_clip_config.json")
        if snap:
            return _Source(f"local-dir:{snap}", None, True, fingerprint_pretrained=f"hf-hub:{repo}")
        if _can_download():
            return _Source(f"hf-hub:{repo}", None, False, fingerprint_pretrained=f"hf-hub:{repo}")
        raise ModelUnavailable(
            f"hf-hub:{repo}", ROLE,
            f"not in the Hugging Face cache ({_hub_cache()}) and the hub is offline or unreachable; run "
            f"`huggingface-cli download {repo}` on a machine with internet, or pass a local directory",
        )
    if pretrained == RANDOM:
        if model not in open_clip.list_models():
            raise ModelUnavailable(model, ROLE, "unknown open_clip architecture (see open_clip.list_models())")
        return _Source(model, None, True, fingerprint_pretrained=RANDOM)

    path = Path(pretrained).expanduser()
    if path.is_dir():
        if (path / "open_clip_config.json").is_file():
            return _Source(f"local-dir:{path.resolve()}", None, True, fingerprint_pretrained=path.name)
        checkpoint = _find_checkpoint(path)
        if checkpoint is None:
            raise ModelUnavailable(model, ROLE, f"no open_clip checkpoint (*.safetensors, *.bin, *.pt) in {path}")
        return _Source(model, checkpoint, True, fingerprint_pretrained=_path_fingerprint(Path(checkpoint)))
    if path.is_file():
        return _Source(model, str(path), True, fingerprint_pretrained=_path_fingerprint(path))
    if os.sep in pretrained or pretrained.endswith(_CHECKPOINT_SUFFIXES):
        raise ModelUnavailable(model, ROLE, f"no such checkpoint file or directory: {pretrained}")

    if model not in open_clip.list_models():
        raise ModelUnavailable(model, ROLE, "unknown open_clip architecture (see open_clip.list_models())")
    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise ModelUnavailable(f"{model}/{pretrained}", ROLE, f"unknown pretrained tag; tags for {model}: {tags}")
    preprocess = {
        "image_mean": cfg.get("mean"),
        "image_std": cfg.get("std"),
        "image_interpolation": cfg.get("interpolation"),
        "image_resize_mode": cfg.get("resize_mode"),
    }
    preprocess = {k: v for k, v in preprocess.items() if v is not None}
    cached = _cached_tag_file(cfg)
    if cached:
        return _Source(model, cached, True, preprocess, fingerprint_pretrained=pretrained)
    source_url = cfg.get("url") if not cfg.get("hf_hub") else None
    if _can_download(source_url):
        # open_clip downloads into the usual caches; the tag's preprocessing comes with it.
        return _Source(model, pretrained, False, fingerprint_pretrained=pretrained)
    raise ModelUnavailable(f"{model}/{pretrained}", ROLE, _remedy(model, pretrained))


def _cached_tag_file(cfg: dict[str, Any]) -> str | None:
    """The local file of an open_clip pretrained tag, if a previous download left it in a cache."""
    if cfg.get("file") and os.path.isfile(cfg["file"]):
        return str(cfg["file"])
    if cfg.get("hf_hub"):
        # open_clip's convention: "org/name/" means the default file, "org/name/file.bin" names it
        repo, filename = os.path.split(cfg["hf_hub"])
        filename = filename or "open_clip_pytorch_model.bin"
        names = [filename]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        if filename == "open_clip_pytorch_model.bin":
            names.insert(0, "open_clip_model.safetensors")
        for name in names:
            found = _cached_file(repo, name)
            if found:
                return found
    if cfg.get("url"):
        target = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(cfg["url"])
        if target.is_file():
            return str(target)
    return None


_OFFLINE_LOCK = threading.Lock()


@contextlib.contextmanager
def _hub_forced_offline(active: bool) -> Iterator[None]:
    """Force huggingface_hub (and transformers, which asks it) offline while loading from local files."""
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


def _load_tokenizer(model_name: str, local: bool) -> Any:
    """open_clip's tokenizer; hub-hosted ones (SigLIP) come from the HF cache, offline-first."""
    import open_clip
    from open_clip.tokenizer import HFTokenizer

    if model_name.startswith(("local-dir:", "hf-hub:")):
        with _hub_forced_offline(local):
            return open_clip.get_tokenizer(model_name)
    cfg = open_clip.get_model_config(model_name) or {}
    text_cfg = cfg.get("text_cfg", {})
    hf_name = text_cfg.get("hf_tokenizer_name")
    if hf_name:
        snap = _cached_snapshot(hf_name, "tokenizer_config.json") or _cached_snapshot(hf_name, "tokenizer.json")
        if snap:
            with _hub_forced_offline(True):
                return HFTokenizer(
                    snap,
                    context_length=text_cfg.get("context_length", 77),
                    tokenizer_mode=text_cfg.get("tokenizer_mode"),
                    **text_cfg.get("tokenizer_kwargs", {}),
                )
        if not _can_download():
            raise ModelUnavailable(
                hf_name, "image tokenizer",
                f"not in the Hugging Face cache and the hub is offline or unreachable; run "
                f"`huggingface-cli download {hf_name}` on a machine with internet",
            )
        return open_clip.get_tokenizer(model_name)
    with _hub_forced_offline(True):
        return open_clip.get_tokenizer(model_name)


# ---------------------------------------------------------------------------------------------
# the encoder
# ---------------------------------------------------------------------------------------------


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with transparency flattened onto white (a figure's transparent background is paper, not black)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class OpenClipEncoder:
    """An open_clip CLIP or SigLIP model behind the ImageEncoder protocol.

    Images are resized and cropped on CPU threads into uint8 arrays (decoding included, for lazily opened
    images) while the model runs on the previous batch; scaling and normalisation happen on the device.
    """

    def __init__(
        self, model: Any, preprocess: Any, tokenizer: Any, *, name: str, pretrained: str, device: str,
        batch_size: int = 32, workers: int | None = None,
    ) -> None:
        import torch

        self.name = name
        self.pretrained = pretrained
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self._torch = torch
        self._cpu_steps, mean, std = _split_preprocess(preprocess)
        self._mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) if mean is not None else None
        self._std = torch.tensor(std, device=device).view(1, 3, 1, 1) if std is not None else None
        cores = os.cpu_count() or 1
        self._workers = workers or (min(16, cores) if device.startswith("cuda") else max(1, min(4, cores // 2)))
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="mmrag-preprocess")
        self.dim = int(self.encode_text(["a"]).shape[1])

    @classmethod
    def load(
        cls, model: str = "ViT-B-32", pretrained: str | None = "laion2b_s34b_b79k", device: str = "auto",
        batch_size: int = 32,
    ) -> OpenClipEncoder:
        """Load an open_clip model offline-first.

        pretrained: an open_clip tag (from the local cache, downloaded only when online), a checkpoint file,
        a directory (HF open_clip layout or holding a checkpoint), "hf-hub:org/name", or "random".
        Raises ModelUnavailable with the remedy when the weights or tokenizer cannot be had.
        """
        import open_clip

        source = _resolve(model, pretrained)
        device = resolve_device(device)
        # The tokenizer first: a SigLIP tokenizer missing from the cache should fail before a model is built.
        try:
            tokenizer = _load_tokenizer(source.model_name, source.local)
        except ModelUnavailable:
            raise
        except Exception as exc:
            raise ModelUnavailable(
                model, "image tokenizer", f"could not load the tokenizer offline ({str(exc).splitlines()[0][:200]})"
            ) from exc
        try:
            with _hub_forced_offline(source.local):
                kwargs = dict(source.preprocess)
                net, _, preprocess = open_clip.create_model_and_transforms(
                    source.model_name, pretrained=source.checkpoint, device=device, **kwargs
                )
        except ModelUnavailable:
            raise
        except Exception as exc:  # open_clip raises RuntimeError/OSError/ValueError for missing pieces
            raise ModelUnavailable(
                model, ROLE, f"{_remedy(model, str(pretrained))} (open_clip: {str(exc).splitlines()[0][:200]})"
            ) from exc
        return cls(
            net, preprocess, tokenizer, name=model, pretrained=source.fingerprint_pretrained, device=device,
            batch_size=batch_size,
        )

    # -----------------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.name, "pretrained": self.pretrained, "dim": self.dim}

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    def _autocast(self) -> Any:
        if self.device.startswith("cuda"):
            return self._torch.autocast("cuda", dtype=self._torch.float16)
        return contextlib.nullcontext()

    def _prepare(self, image: Image.Image) -> np.ndarray:
        image = _to_rgb(image)
        for step in self._cpu_steps:
            image = step(image)
        if isinstance(image, Image.Image):
            return np.asarray(image, dtype=np.uint8)
        return np.asarray(image)  # fallback path: a float CHW tensor from the full transform

    def _prefetched_batches(self, images: Sequence[Image.Image]) -> Iterator[Any]:
        """Host batches, the next ones already being prepared on worker threads."""
        torch = self._torch
        chunks = (images[i : i + self.batch_size] for i in range(0, len(images), self.batch_size))
        pending: deque[list[Future[np.ndarray]]] = deque()
        depth = 2 if self.device.startswith("cuda") else 1
        for chunk in chunks:
            pending.append([self._pool.submit(self._prepare, im) for im in chunk])
            if len(pending) > depth:
                yield self._collate(pending.popleft(), torch)
        while pending:
            yield self._collate(pending.popleft(), torch)

    def _collate(self, futures: list[Future[np.ndarray]], torch: Any) -> Any:
        batch = torch.from_numpy(np.stack([f.result() for f in futures]))
        if self.device.startswith("cuda"):
            batch = batch.pin_memory()
        return batch

    def _to_model_input(self, batch: Any) -> Any:
        torch = self._torch
        batch = batch.to(self.device, non_blocking=True)
        if batch.dtype == torch.uint8:  # NHWC uint8 → NCHW float, scaled and normalised on the device
            batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
            if self._mean is not None:
                batch = (batch - self._mean) / self._std
        return batch

    def model_inputs(self, images: Sequence[Image.Image]) -> Any:
        """The preprocessed, normalised batch on the device, exactly as encode_images feeds the model."""
        return self._torch.cat([self._to_model_input(b) for b in self._prefetched_batches(images)])

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed images (any PIL mode; lazily opened ones are decoded on worker threads)."""
        torch = self._torch
        if len(images) == 0:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        outputs = []
        with torch.inference_mode(), self._autocast():
            for batch in self._prefetched_batches(images):
                features = self.model.encode_image(self._to_model_input(batch))
                outputs.append(torch.nn.functional.normalize(features.float(), dim=-1))
        return torch.cat(outputs).cpu().numpy().astype(np.float32, copy=False)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed query texts."""
        torch = self._torch
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        outputs = []
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(texts), self.batch_size):
                tokens = self.tokenizer(list(texts[i : i + self.batch_size])).to(self.device)
                features = self.model.encode_text(tokens)
                outputs.append(torch.nn.functional.normalize(features.float(), dim=-1))
        return torch.cat(outputs).cpu().numpy().astype(np.float32, copy=False)


def _split_preprocess(preprocess: Any) -> tuple[list[Any], tuple[float, ...] | None, tuple[float, ...] | None]:
    """Split open_clip's eval transform into PIL steps (CPU) and mean/std (applied on the device).

    Falls back to running the whole transform on CPU when it has an unexpected shape.
    """
    steps = list(getattr(preprocess, "transforms", []))
    names = [type(s).__name__ for s in steps]
    to_tensor = next((i for i, n in enumerate(names) if n.endswith("ToTensor")), None)
    if to_tensor is None or to_tensor != len(steps) - 2 or names[-1] != "Normalize":
        return [preprocess], None, None
    norm = steps[-1]
    return steps[:to_tensor], tuple(float(v) for v in norm.mean), tuple(float(v) for v in norm.std)
