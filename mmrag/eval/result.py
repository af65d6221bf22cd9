"""What an evaluation run produced: per-question records and the run's result, aggregated into the summary
that `mmrag eval --json` prints (metrics per channel and per evidence type, latencies, answer scores)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmrag.eval.metrics import metric_names
from mmrag.eval.questions import EVIDENCE_TYPES, Question

VISUAL_EVIDENCE = ("Chart", "Figure", "Table")


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
