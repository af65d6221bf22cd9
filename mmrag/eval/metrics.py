"""Ranking metrics as plain functions over a ranked list and a set of relevant items.

Conventions shared by every function here:
- `ranked` is best first; ties were already broken by the caller, so input order is the rank order.
- A repeated item counts once, at its first position (later copies are dropped before cutting at k).
- `relevant` must not be empty (unanswerable questions are excluded upstream): ValueError otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Sequence
from typing import Any

PageRef = tuple[str, int]


def dedupe(ranked: Iterable[Hashable]) -> list[Any]:
    """The items in order, each kept only at its first position."""
    seen: set[Hashable] = set()
    out: list[Any] = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def pages_from_hits(hits: Iterable[Any]) -> list[PageRef]:
    """(doc, page) ranking from an element ranking: a page ranks where its first element does."""
    return dedupe((h.element.doc, int(h.element.page)) for h in hits)


def elements_from_hits(hits: Iterable[Any]) -> list[str]:
    """Element-id ranking from hits, repeated ids kept at their first position."""
    return dedupe(h.element.id for h in hits)


def _check(relevant: Collection[Hashable], k: int | None = None) -> set[Hashable]:
    if not relevant:
        raise ValueError("no relevant items: unanswerable questions must be excluded before scoring")
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return set(relevant)


def first_relevant_rank(ranked: Sequence[Hashable], relevant: Collection[Hashable]) -> int | None:
    """1-based rank of the first relevant item after de-duplication, None when none is ranked."""
    rel = _check(relevant)
    for i, item in enumerate(dedupe(ranked), start=1):
        if item in rel:
            return i
    return None


def hit_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """1.0 when at least one relevant item is in the top k, else 0.0."""
    rel = _check(relevant, k)
    return 1.0 if any(item in rel for item in dedupe(ranked)[:k]) else 0.0


def recall_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Share of the relevant items found in the top k."""
    rel = _check(relevant, k)
    return len(rel.intersection(dedupe(ranked)[:k])) / len(rel)


def mrr(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int | None = None) -> float:
    """Reciprocal rank of the first relevant item (within the top k when k is given); 0.0 when absent."""
    _check(relevant, k)
    rank = first_relevant_rank(ranked, relevant)
    if rank is None or (k is not None and rank > k):
        return 0.0
    return 1.0 / rank


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """nDCG@k with binary gains; the ideal DCG puts min(len(relevant), k) relevant items first."""
    rel = _check(relevant, k)
    dcg = sum(1.0 / math.log2(i + 1) for i, item in enumerate(dedupe(ranked)[:k], start=1) if item in rel)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(rel), k) + 1))
    return dcg / ideal


def metric_names(ks: Sequence[int], prefix: str = "page") -> list[str]:
    """Metric keys in report order: page_hit@k, page_recall@k, mrr, ndcg@k (element_* for elements)."""
    rr = "mrr" if prefix == "page" else f"{prefix}_mrr"
    ndcg = "ndcg" if prefix == "page" else f"{prefix}_ndcg"
    return [f"{prefix}_hit@{k}" for k in ks] + [f"{prefix}_recall@{k}" for k in ks] + [rr] + [f"{ndcg}@{k}" for k in ks]


def score_ranking(ranked: Sequence[Any], relevant: Iterable[Any], ks: Sequence[int], prefix: str) -> dict[str, float]:
    """Every metric of `metric_names(ks, prefix)` for one ranking."""
    rel = list(relevant)
    hit = {f"{prefix}_hit@{k}": hit_at_k(ranked, rel, k) for k in ks}
    rec = {f"{prefix}_recall@{k}": recall_at_k(ranked, rel, k) for k in ks}
    ndcg = "ndcg" if prefix == "page" else f"{prefix}_ndcg"
    rr = {"mrr" if prefix == "page" else f"{prefix}_mrr": mrr(ranked, rel)}
    return {**hit, **rec, **rr, **{f"{ndcg}@{k}": ndcg_at_k(ranked, rel, k) for k in ks}}
