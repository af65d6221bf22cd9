"""RetrievalEvaluator: runs questions through a search callable per channel and scores pages and elements."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmrag.elements import Answer, Hit
from mmrag.errors import ModelUnavailable
from mmrag.eval import answer_metrics as am
from mmrag.eval.caption import matched_via_caption
from mmrag.eval.metrics import (
    dedupe,
    first_relevant_rank,
    hit_at_k,
    mrr,
    ndcg_at_k,
    recall_at_k,
)
from mmrag.eval.questions import EVIDENCE_TYPES, Question
from mmrag.indexes.base import SearchFilter

SearchFn = Callable[[str, str, SearchFilter | None, int], list[Hit]]
AskFn = Callable[[str, SearchFilter | None], Answer]
ProgressFn = Callable[[int, int], None]

SCOPES = ("doc", "corpus")
VISUAL_EVIDENCE = ("Chart", "Figure", "Table")


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


@dataclass
class QuestionRecord:
    """What one question got: per channel the element ranking, the scores and the first evidence page's rank."""

    question: Question
    rankings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    first_evidence_rank: dict[str, int | None] = field(default_factory=dict)
    answer: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        q = self.question
        return {
            "id": q.id,
            "question": q.question,
            "doc": q.doc,
            "answerable": q.answerable,
            "evidence_pages": [list(r) for r in q.page_refs],
            "evidence": q.evidence,
            "elements": q.elements,
            "rankings": self.rankings,
            "metrics": self.metrics,
            "first_evidence_rank": self.first_evidence_rank,
            "answer": self.answer,
        }


def _mean_by_key(dicts: Iterable[dict[str, float]], keys: Sequence[str]) -> dict[str, float]:
    """Mean of each key over the dicts that have it (element metrics exist only where questions name elements)."""
    dicts = list(dicts)
    out = {}
    for key in keys:
        values = [d[key] for d in dicts if key in d]
        if values:
            out[key] = round(sum(values) / len(values), 6)
    return out


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 6) if vals else None


@dataclass
class EvalResult:
    """Everything one evaluation run produced; `to_json()` is the summary, `records` the per-question detail."""

    scope: str
    ks: tuple[int, ...]
    depth: int
    channels: list[str]
    disabled: dict[str, str]
    records: list[QuestionRecord]
    unanswerable: list[QuestionRecord]
    seconds: float
    asked: bool = False
    latencies: dict[str, list[float]] = field(default_factory=dict)  # seconds per search, per channel

    def latency_ms(self) -> dict[str, dict[str, float]]:
        """p50 / p95 milliseconds of one search, per channel (the first search of each channel, which loads
        its models, is left out when there are others)."""
        out = {}
        for ch, values in self.latencies.items():
            vals = sorted(values[1:] if len(values) > 1 else values)
            out[ch] = {"p50": round(1000 * vals[len(vals) // 2], 1),
                       "p95": round(1000 * vals[min(len(vals) - 1, int(0.95 * len(vals)))], 1)}
        return out

    def keys(self) -> list[str]:
        return metric_names(self.ks, "page") + metric_names(self.ks, "element")

    def aggregate(self, records: Sequence[QuestionRecord]) -> dict[str, dict[str, float]]:
        """Mean metrics per enabled channel over the given records."""
        return {
            ch: _mean_by_key((r.metrics[ch] for r in records if ch in r.metrics), self.keys()) for ch in self.channels
        }

    def by_evidence(self) -> dict[str, dict[str, dict[str, float]]]:
        out = {}
        for ev in EVIDENCE_TYPES:
            group = [r for r in self.records if ev in r.question.evidence]
            if group:
                out[ev] = self.aggregate(group)
        return out

    def caption_hits(self) -> dict[str, Any] | None:
        """Figure/chart/table questions the text channel found (within max k) only through a caption.

        Per question with Chart, Figure or Table evidence: take the text channel's first element that lies on an
        evidence page; if that page ranks within max(ks) the question is found, and it counts as via caption when
        that element is a caption text or a figure/table whose caption matched (see `matched_via_caption`).
        share = via_caption / questions.
        """
        if "text" not in self.channels:
            return None
        group = [r for r in self.records if any(e in VISUAL_EVIDENCE for e in r.question.evidence)]
        found = via = 0
        for r in group:
            rank = r.first_evidence_rank.get("text")
            if rank is None or rank > max(self.ks):
                continue
            found += 1
            refs = set(r.question.page_refs)
            first = next(h for h in r.rankings["text"] if (h["doc"], h["page"]) in refs)
            via += bool(first["via_caption"])
        return {
            "questions": len(group),
            "found": found,
            "via_caption": via,
            "within_k": max(self.ks),
            "share": round(via / len(group), 6) if group else None,
            "share_of_found": round(via / found, 6) if found else None,
        }

    def answer_summary(self) -> dict[str, Any] | None:
        if not self.asked:
            return None
        rows = [r.answer for r in self.records if r.answer is not None]
        scored = [a for a in rows if a.get("exact_match") is not None]
        unans = [r.answer for r in self.unanswerable if r.answer is not None]
        generators = sorted({a["generator"] for a in rows + unans})
        return {
            "generator": ", ".join(generators),
            "depends_on_generator": True,
            "n": len(scored),
            "exact_match": _mean(a["exact_match"] for a in scored),
            "contains_answer": _mean(a.get("contains_answer") for a in scored),
            "token_f1": _mean(a["token_f1"] for a in scored),
            "anls": _mean(a["anls"] for a in scored),
            "citation_accuracy": _mean(a["citation_accuracy"] for a in rows),
            "n_with_citations": sum(1 for a in rows if a["citation_accuracy"] is not None),
            "unanswerable_abstained": _mean(0.0 if a["supported"] else 1.0 for a in unans),
        }

    def to_json(self) -> dict[str, Any]:
        """The summary printed by `mmrag eval --json` (n counts the scored, answerable questions)."""
        out: dict[str, Any] = {
            "n": len(self.records),
            "scope": self.scope,
            "unanswerable": len(self.unanswerable),
            "ks": list(self.ks),
            "depth": self.depth,
            "metrics": self.aggregate(self.records),
            "by_evidence": self.by_evidence(),
            "n_by_evidence": {
                ev: sum(1 for r in self.records if ev in r.question.evidence)
                for ev in EVIDENCE_TYPES
                if any(ev in r.question.evidence for r in self.records)
            },
            "n_with_elements": sum(1 for r in self.records if r.question.elements),
            "text_caption_hits": self.caption_hits(),
            "disabled_channels": list(self.disabled),
            "seconds": round(self.seconds, 3),
            "latency_ms": self.latency_ms(),
        }
        answer = self.answer_summary()
        if answer is not None:
            out["answer"] = answer
        return out


def _ranked_item(hit: Hit, question: str) -> dict[str, Any]:
    e = hit.element
    return {
        "doc": e.doc,
        "page": int(e.page),
        "element_id": e.id,
        "kind": e.kind,
        "score": float(hit.score),
        "via_caption": matched_via_caption(e, question),
    }


class RetrievalEvaluator:
    """Scores retrieval per channel (and fused) at the page level, and at the element level where questions name
    elements; optionally scores answers from an `ask` callable."""

    def __init__(
        self,
        questions: Sequence[Question],
        ks: Sequence[int] = (1, 5, 10),
        channels: Sequence[str] = ("text", "image", "fused"),
        scope: str = "doc",
        depth: int | None = None,
    ) -> None:
        """depth: elements retrieved per channel and question (default max(20, 2 * max(ks)), so that k distinct
        pages are usually available after merging elements of the same page; MRR is computed over this depth)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
        if not ks or min(ks) < 1:
            raise ValueError(f"ks must be positive integers, got {list(ks)}")
        self.questions = list(questions)
        self.ks = tuple(sorted(set(int(k) for k in ks)))
        self.channels = list(dict.fromkeys(channels))
        self.scope = scope
        self.depth = depth if depth is not None else max(20, 2 * max(self.ks))
        if self.depth < max(self.ks):
            raise ValueError(f"depth {self.depth} is below the largest k {max(self.ks)}")

    def search_filter(self, q: Question) -> SearchFilter | None:
        """doc scope: only the question's own document(s), applied inside the index; corpus scope: none."""
        if self.scope == "doc" and q.docs:
            return SearchFilter(docs=q.docs)
        return None

    def run(
        self,
        search: SearchFn,
        disabled_channels: Iterable[str] = (),
        ask: AskFn | None = None,
        progress: ProgressFn | None = None,
    ) -> EvalResult:
        """search(question_text, channel, filter, k) -> hits best first. A channel listed as disabled, or whose
        search raises ModelUnavailable, is reported as disabled and not scored."""
        start = time.perf_counter()
        disabled = {ch: "disabled by caller" for ch in disabled_channels}
        records: list[QuestionRecord] = []
        unanswerable: list[QuestionRecord] = []
        latencies: dict[str, list[float]] = {}
        total = len(self.questions)
        for i, q in enumerate(self.questions, start=1):
            flt = self.search_filter(q)
            rec = QuestionRecord(question=q)
            if q.answerable:
                for ch in self.channels:
                    if ch in disabled:
                        continue
                    try:
                        t0 = time.perf_counter()
                        hits = search(q.question, ch, flt, self.depth)
                        latencies.setdefault(ch, []).append(time.perf_counter() - t0)
                    except ModelUnavailable as exc:
                        disabled[ch] = str(exc)
                        for done in records:
                            done.rankings.pop(ch, None)
                            done.metrics.pop(ch, None)
                            done.first_evidence_rank.pop(ch, None)
                        continue
                    self._score(rec, ch, list(hits)[: self.depth])
            if ask is not None:
                rec.answer = _score_answer(q, ask(q.question, flt))
            (records if q.answerable else unanswerable).append(rec)
            if progress is not None:
                progress(i, total)
        return EvalResult(
            scope=self.scope,
            ks=self.ks,
            depth=self.depth,
            channels=[ch for ch in self.channels if ch not in disabled],
            disabled=disabled,
            records=records,
            unanswerable=unanswerable,
            seconds=time.perf_counter() - start,
            asked=ask is not None,
            latencies={ch: v for ch, v in latencies.items() if ch not in disabled},
        )

    def _score(self, rec: QuestionRecord, channel: str, hits: list[Hit]) -> None:
        q = rec.question
        items = [_ranked_item(h, q.question) for h in hits]
        pages = dedupe((it["doc"], it["page"]) for it in items)
        rec.rankings[channel] = items
        metrics = score_ranking(pages, q.page_refs, self.ks, "page")
        if q.elements:
            elements = dedupe(it["element_id"] for it in items)
            metrics.update(score_ranking(elements, q.elements, self.ks, "element"))
        rec.metrics[channel] = metrics
        rec.first_evidence_rank[channel] = first_relevant_rank(pages, q.page_refs)


def _score_answer(q: Question, answer: Answer) -> dict[str, Any]:
    cited = dedupe((c.doc, int(c.page)) for c in answer.citations)
    out: dict[str, Any] = {
        "text": answer.text,
        "generator": answer.generator,
        "supported": answer.supported,
        "cited_pages": [list(p) for p in cited],
        "exact_match": None,
        "token_f1": None,
        "anls": None,
        "citation_accuracy": am.citation_accuracy(cited, q.page_refs) if q.answerable else None,
    }
    if q.answers and q.answerable:
        out["exact_match"] = am.exact_match(answer.text, q.answers)
        out["contains_answer"] = am.contains_answer(answer.text, q.answers)
        out["token_f1"] = round(am.token_f1(answer.text, q.answers), 6)
        out["anls"] = round(am.anls(answer.text, q.answers), 6)
    return out
