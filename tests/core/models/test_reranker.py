from __future__ import annotations

import numpy as np
import pytest
from factories import tiny_cross_encoder as build_tiny_cross_encoder

from mmrag.elements import Element, Hit
from mmrag.errors import ModelUnavailable
from mmrag.models.reranker import CrossEncoderReranker

WORDS = "solar panel efficiency rose wind turbine capacity grid storage battery cost the of in".split()


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A randomly initialised one-layer BERT cross-encoder with a WordPiece vocab, saved to a directory."""
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-ce"), WORDS)


def _hits(texts: list[str]) -> list[Hit]:
    return [
        Hit(Element(f"e{i}", "a.pdf", "sha", 1, "text", (0, 0, 1, 1), text=t), score=1.0 / (i + 1),
            channels={"text": {"rank": i + 1.0, "score": 0.5}})
        for i, t in enumerate(texts)
    ]  # fmt: skip


TEXTS = ["solar panel efficiency", "wind turbine capacity", "grid storage", "battery cost", "the rose of the grid"]


def test_order_follows_scores_and_top_k(tiny_cross_encoder):
    rr = CrossEncoderReranker.load(tiny_cross_encoder, "cpu", max_length=64)
    hits = _hits(TEXTS)
    scores = rr.scores("solar efficiency", hits)
    assert len(scores) == 5 and len(set(scores)) > 1
    out = rr.rerank("solar efficiency", hits, top_k=3)
    expected = [hits[i].element.id for i in np.argsort(-np.array(scores), kind="stable")[:3]]
    assert [h.element.id for h in out] == expected
    assert [h.score for h in out] == sorted(scores, reverse=True)[:3]
    original = next(h for h in hits if h.element.id == out[0].element.id)
    assert out[0].channels == {**original.channels, "rerank": {"score": out[0].score, "rank": 1.0,
                                                                "fused_score": original.score}}  # fmt: skip
    assert len(rr.rerank("solar efficiency", hits)) == 5 and rr.rerank("q", []) == []
    assert hits[0].score == 1.0 and "rerank" not in hits[0].channels  # inputs untouched


class _FixedModel:
    def __init__(self, scores: list[float]) -> None:
        self.scores, self.pairs = scores, []

    def predict(self, pairs, **kwargs):
        self.pairs = pairs
        return np.array(self.scores, dtype=np.float32)


def test_ties_keep_fused_order_and_text_includes_caption():
    hits = _hits(["a", "b", "c"])
    hits[2].element.caption = "Figure 1: c"
    model = _FixedModel([0.5, 0.9, 0.5])
    out = CrossEncoderReranker(model, "fixed").rerank("q", hits, top_k=3)
    assert [h.element.id for h in out] == ["e1", "e0", "e2"]
    assert out[1].channels["rerank"] == {"score": 0.5, "rank": 2.0, "fused_score": 1.0}
    assert model.pairs[2] == ("q", "Figure 1: c\nc")


def test_missing_model(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelUnavailable, match="reranker model"):
        CrossEncoderReranker.load("cross-encoder/ms-marco-MiniLM-L6-v2")
