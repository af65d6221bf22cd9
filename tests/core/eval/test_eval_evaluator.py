from __future__ import annotations

import json
import math

import pytest

from mmrag.elements import Answer, Citation
from mmrag.errors import ModelUnavailable
from mmrag.eval.evaluator import RetrievalEvaluator
from mmrag.eval.metrics import metric_names

L3 = 1 / math.log2(3)
IDEAL2 = 1 + L3


def test_json_shape_and_values(questions, fake_search) -> None:
    search = fake_search()
    result = RetrievalEvaluator(questions, ks=(1, 5, 10)).run(search)
    out = result.to_json()
    json.dumps(out)  # serialisable
    assert out["n"] == 2 and out["unanswerable"] == 1 and out["scope"] == "doc"
    assert set(out["metrics"]) == {"text", "image", "fused"}
    assert out["disabled_channels"] == []
    for by_channel in [out["metrics"], *out["by_evidence"].values()]:
        for metrics in by_channel.values():
            assert all(0.0 <= v <= 1.0 for v in metrics.values())
    text, image, fused = (out["metrics"][c] for c in ("text", "image", "fused"))
    assert list(text)[: len(metric_names((1, 5, 10)))] == metric_names((1, 5, 10))
    # q1 text: pages [a1, a2], evidence a2 -> rank 2; q2 text: pages [a3, a2, a1], evidence {a1, a3}
    assert text["page_hit@1"] == 0.5
    assert text["page_recall@1"] == 0.25
    assert text["page_recall@5"] == 1.0
    assert text["mrr"] == 0.75
    assert text["ndcg@5"] == pytest.approx((L3 + 1.5 / IDEAL2) / 2, abs=1e-6)
    # element metrics only over q1 (the only question naming elements)
    assert text["element_hit@1"] == 0.0 and text["element_mrr"] == 0.5
    assert out["n_with_elements"] == 1
    # image: q1 at rank 1, q2 nothing retrieved
    assert image["page_hit@1"] == 0.5 and image["mrr"] == 0.5 and image["element_mrr"] == 0.0
    assert fused["page_hit@1"] == 0.5 and fused["mrr"] == 0.75
    assert fused["ndcg@5"] == pytest.approx((1 + L3 / IDEAL2) / 2, abs=1e-6)
    assert out["by_evidence"]["Chart"]["text"]["mrr"] == 0.5
    assert out["by_evidence"]["Text"]["text"]["mrr"] == 1.0
    assert out["n_by_evidence"] == {"Text": 1, "Chart": 1}
    assert out["text_caption_hits"] == {
        "questions": 1,
        "found": 1,
        "via_caption": 1,
        "within_k": 10,
        "share": 1.0,
        "share_of_found": 1.0,
    }
    assert "answer" not in out


def test_doc_scope_filters_inside_search_and_corpus_does_not(questions, fake_search) -> None:
    search = fake_search()
    RetrievalEvaluator(questions, ks=(1, 5)).run(search)
    assert {c[2].docs[0] for c in search.calls} == {"a.pdf"}
    assert all(c[3] == 20 for c in search.calls)  # depth max(20, 2 * max k)
    assert {c[0] for c in search.calls} == {"q1", "q2"}  # the unanswerable q3 is not searched
    search = fake_search()
    result = RetrievalEvaluator(questions, ks=(1,), scope="corpus", depth=7).run(search)
    assert all(c[2] is None and c[3] == 7 for c in search.calls)
    assert result.to_json()["scope"] == "corpus"


def test_unanswerables_reported_apart(questions, fake_search) -> None:
    result = RetrievalEvaluator(questions).run(fake_search())
    assert [r.question.id for r in result.unanswerable] == ["q3"]
    assert [r.question.id for r in result.records] == ["q1", "q2"]


def test_disabled_channel_listed_not_scored(questions, fake_search) -> None:
    search = fake_search()
    out = RetrievalEvaluator(questions).run(search, disabled_channels=("image",)).to_json()
    assert out["disabled_channels"] == ["image"]
    assert "image" not in out["metrics"]
    assert all("image" not in ch for ch in out["by_evidence"].values())
    assert all(c[1] != "image" for c in search.calls)


def test_channel_whose_model_is_unavailable_is_disabled(questions, fake_search) -> None:
    inner = fake_search()

    def search(question, channel, flt, k):
        if channel == "image":
            raise ModelUnavailable("clip", "image", "install the weights")
        return inner(question, channel, flt, k)

    result = RetrievalEvaluator(questions).run(search)
    out = result.to_json()
    assert out["disabled_channels"] == ["image"] and set(out["metrics"]) == {"text", "fused"}
    assert "clip" in result.disabled["image"]


def test_ties_keep_the_order_the_search_returned(questions, make_hit) -> None:
    hits = [make_hit("a.pdf", 5, score=0.5), make_hit("a.pdf", 2, score=0.5)]
    result = RetrievalEvaluator(questions[:1], channels=("text",)).run(lambda q, c, f, k: hits)
    assert result.to_json()["metrics"]["text"]["mrr"] == 0.5


def test_answers_scored_and_marked_with_generator(questions, fake_search) -> None:
    def ask(question, flt):
        if question == questions[2].question:
            return Answer(text="Not in the documents.", generator="fake-gen", supported=False)
        cites = [
            Citation("[1]", "a.pdf", 2, "a2-fig", "figure", (0, 0, 1, 1)),
            Citation("[2]", "a.pdf", 5, "a5-t", "text", (0, 0, 1, 1)),
        ]
        return Answer(text="42", generator="fake-gen", citations=cites)

    progress: list[tuple[int, int]] = []
    out = RetrievalEvaluator(questions).run(fake_search(), ask=ask, progress=lambda i, n: progress.append((i, n)))
    ans = out.to_json()["answer"]
    assert progress[-1] == (3, 3)
    assert ans["generator"] == "fake-gen" and ans["depends_on_generator"] is True
    assert ans["n"] == 2
    assert ans["exact_match"] == 0.5  # q1 "42" right, q2 "Ada Lovelace" wrong
    assert ans["anls"] == 0.5
    # q1 cites a2 (evidence) and a5 -> 0.5; q2 cites a2, a5, evidence {a1, a3} -> 0
    assert ans["citation_accuracy"] == 0.25
    assert ans["unanswerable_abstained"] == 1.0


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        RetrievalEvaluator([], scope="world")
    with pytest.raises(ValueError):
        RetrievalEvaluator([], ks=(0,))
    with pytest.raises(ValueError):
        RetrievalEvaluator([], ks=(10,), depth=5)
