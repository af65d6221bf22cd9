"""RetrievalEvaluator: runs questions through a search callable per channel and scores pages and elements.

The metrics are plain functions (metrics.py, answer_metrics.py); what a run produced is an EvalResult (result.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mmrag.elements import Answer, Hit
from mmrag.errors import ModelUnavailable
from mmrag.eval import answer_metrics as am
from mmrag.eval.caption import matched_via_caption
from mmrag.eval.metrics import dedupe, first_relevant_rank, score_ranking
from mmrag.eval.questions import Question
from mmrag.eval.result import EvalResult, QuestionRecord
from mmrag.indexes.base import SearchFilter

SearchFn = Callable[[str, str, SearchFilter | None, int], list[Hit]]
AskFn = Callable[[str, SearchFilter | None], Answer]
ProgressFn = Callable[[int, int], None]

SCOPES = ("doc", "corpus")


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
