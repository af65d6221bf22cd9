from __future__ import annotations

import math

import pytest

from mmrag.eval.metrics import (
    dedupe,
    elements_from_hits,
    first_relevant_rank,
    hit_at_k,
    mrr,
    ndcg_at_k,
    pages_from_hits,
    recall_at_k,
)

L2, L3, L4, L5 = 1.0, 1 / math.log2(3), 0.5, 1 / math.log2(5)


def test_duplicates_count_once_at_first_position() -> None:
    ranked = ["A", "B", "A", "C", "D"]
    assert dedupe(ranked) == ["A", "B", "C", "D"]
    relevant = {"C", "D"}
    assert hit_at_k(ranked, relevant, 1) == 0.0
    assert hit_at_k(ranked, relevant, 2) == 0.0
    assert hit_at_k(ranked, relevant, 3) == 1.0  # the repeated A does not push C out of the top 3
    assert recall_at_k(ranked, relevant, 3) == 0.5
    assert recall_at_k(ranked, relevant, 4) == 1.0
    assert mrr(ranked, relevant) == pytest.approx(1 / 3)
    assert first_relevant_rank(ranked, relevant) == 3


def test_duplicate_relevant_item_is_not_counted_twice() -> None:
    ranked = ["C", "C", "C"]
    assert recall_at_k(ranked, {"C", "D"}, 3) == 0.5
    assert ndcg_at_k(ranked, {"C", "D"}, 2) == pytest.approx(1 / (1 + L3))


def test_ndcg_exact_values() -> None:
    ranked = ["A", "B", "C", "D"]
    assert ndcg_at_k(ranked, {"C", "D"}, 3) == pytest.approx(L4 / (L2 + L3))
    assert ndcg_at_k(ranked, {"C", "D"}, 4) == pytest.approx((L4 + L5) / (L2 + L3))
    assert ndcg_at_k(ranked, {"A"}, 5) == 1.0
    assert ndcg_at_k(ranked, {"B"}, 5) == pytest.approx(L3)
    # ideal DCG from min(len(relevant), k): three relevant, k=2, both top slots relevant -> 1.0
    assert ndcg_at_k(["A", "B"], {"A", "B", "C"}, 2) == 1.0
    assert ndcg_at_k(["X"], {"A"}, 1) == 0.0


def test_ties_follow_input_order() -> None:
    # the lists carry no scores: equal-score items keep the order the caller gave
    assert hit_at_k(["A", "B"], {"B"}, 1) == 0.0
    assert hit_at_k(["B", "A"], {"B"}, 1) == 1.0


def test_multiple_evidence_pages() -> None:
    ranked = [("d", 3), ("d", 2), ("d", 1)]
    relevant = {("d", 1), ("d", 3)}
    assert hit_at_k(ranked, relevant, 1) == 1.0
    assert recall_at_k(ranked, relevant, 1) == 0.5
    assert recall_at_k(ranked, relevant, 3) == 1.0
    assert mrr(ranked, relevant) == 1.0
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx((L2 + L4) / (L2 + L3))


def test_mrr_zero_when_absent_and_cutoff() -> None:
    assert mrr(["A", "B"], {"Z"}) == 0.0
    assert mrr(["A", "B", "Z"], {"Z"}, k=2) == 0.0
    assert first_relevant_rank(["A"], {"Z"}) is None


def test_empty_relevant_and_bad_k_raise() -> None:
    for fn in (hit_at_k, recall_at_k, ndcg_at_k):
        with pytest.raises(ValueError):
            fn(["A"], set(), 1)
        with pytest.raises(ValueError):
            fn(["A"], {"A"}, 0)
    with pytest.raises(ValueError):
        mrr(["A"], [])


def test_element_ranking_to_pages(make_hit) -> None:
    hits = [
        make_hit("d.pdf", 1, eid="e1"),
        make_hit("d.pdf", 1, "figure", eid="e2"),
        make_hit("d.pdf", 3, eid="e3"),
        make_hit("e.pdf", 1, eid="e4"),
        make_hit("d.pdf", 2, eid="e5"),
        make_hit("d.pdf", 3, "table", eid="e6"),
        make_hit("d.pdf", 1, eid="e1"),
    ]
    pages = pages_from_hits(hits)
    assert pages == [("d.pdf", 1), ("d.pdf", 3), ("e.pdf", 1), ("d.pdf", 2)]
    assert elements_from_hits(hits) == ["e1", "e2", "e3", "e4", "e5", "e6"]
    # page 2 ranks 4th as a page although its element ranked 5th
    assert mrr(pages, {("d.pdf", 2)}) == 0.25
    assert hit_at_k(pages, {("d.pdf", 2)}, 4) == 1.0
