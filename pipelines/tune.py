"""`mmrag eval --tune`: choose the query settings on the user's own questions, checked on a held-back split.

Each question's channel rankings are retrieved once; every candidate setting then only re-fuses them (and, with a
reranker, reuses cached cross-encoder scores), so a grid of hundreds of settings costs seconds. Questions are split
by a stable hash of their id: the grid is searched on one part and the winner is checked on the other, so a gain
that is only overfitting shows up before anything is written.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.eval.metrics import dedupe, score_ranking
from mmrag.eval.questions import Question, load_questions
from mmrag.indexes.base import SearchFilter
from mmrag.pipelines.query import Retrieval, rank_units, retrieve
from mmrag.query_rewrite import load_glossary
from mmrag.settings import QuerySettings

if TYPE_CHECKING:
    from mmrag.pipelines.index import MMIndex

# The search space, as data: each key a QuerySettings field ("weights.<ranking>" for a fusion weight).
SEARCH_SPACE: dict[str, list[Any]] = {
    "fusion": ["rrf", "weighted"],
    "weights.text:dense": [0.0, 0.5, 1.0, 1.5],  # 0: one side alone is a candidate too, so the tuned fusion
    "weights.text:lexical": [0.0, 0.25, 0.5, 1.0, 1.5],  # is never worse than the best side on the tuning split
    "weights.text:rrf": [0.0, 1.0, 2.0],  # the sides fused per element, as one more ranking
    "weights.image": [0.0, 0.5, 1.0, 1.5],  # 0: a corpus where pictures do not help drops the image channel
    "weights.pages": [0.5, 1.0, 2.0],  # late-interaction pages, where the channel is on
    "rrf_k": [5, 15, 30, 60],
    "page_evidence": [0.0, 0.25, 0.5],
    "neighbour_bonus": [0.0, 0.25, 0.5],
    "kind_quota": [{}, {"figure": 1, "table": 1}, {"figure": 2, "table": 2}],
    "statement_weight": [0.0, 1.0, 2.0],  # the pages of statements a question implies (the glossary's)
    "rerank_weight": [0.5, 1.0, 2.0],
    "rerank_depth": [10, 20],
}
# The space is searched in stages, each a grid over its keys with the earlier stages' winners fixed: first how the
# rankings are fused, then what is added on top of the fused pages. Far fewer candidates than one grid over all.
STAGES: tuple[tuple[str, ...], ...] = (
    ("fusion", "weights.text:dense", "weights.text:lexical", "weights.text:rrf", "weights.image", "weights.pages",
     "rrf_k"),
    ("page_evidence", "neighbour_bonus", "kind_quota", "statement_weight", "rerank_weight", "rerank_depth"),
)
OBJECTIVE = ("page_hit@1", "page_hit@5")  # maximised as a sum; MRR breaks ties
KS = (1, 5, 10)
EVAL_DEPTH = 20  # units ranked per question, as `mmrag eval` ranks them


@dataclass
class TuneResult:
    """Before/after metrics on the tuning and held-back questions, and the settings chosen."""

    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]
    chosen: dict[str, Any]
    tried: int
    split: dict[str, int]
    written: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "chosen": self.chosen, "tried": self.tried,
                "split": self.split, "written": self.written, "objective": list(OBJECTIVE), "notes": self.notes}


def split_questions(questions: Sequence[Question], holdout: float) -> tuple[list[Question], list[Question]]:
    """(tune, held back): a stable split by a hash of each question's id."""
    tune, held = [], []
    for q in questions:
        bucket = int(hashlib.sha256(q.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (held if bucket < holdout else tune).append(q)
    return tune, held


def search_space(index: MMIndex) -> dict[str, list[Any]]:
    """The parts of SEARCH_SPACE that apply to this index (no image weight without an image channel, …)."""
    space = dict(SEARCH_SPACE)
    for channel in ("image", "pages"):
        if channel not in index.channels:
            space.pop(f"weights.{channel}")
    if not index.settings.query.reranker:
        space.pop("rerank_weight")
        space.pop("rerank_depth")
    glossary = load_glossary(index.settings.query.glossary)
    if glossary is None or not glossary.statements:
        space.pop("statement_weight")  # no statements to weigh
    return space


def apply(cfg: QuerySettings, values: dict[str, Any]) -> QuerySettings:
    """A copy of cfg with the candidate's values."""
    weights = dict(cfg.weights)
    plain = {}
    for key, value in values.items():
        if key.startswith("weights."):
            weights[key.removeprefix("weights.")] = value
        else:
            plain[key] = value
    return replace(cfg, weights=weights, **plain)


class _CachedScores:
    """A reranker whose scores are remembered per (query, passage): every candidate setting reuses them."""

    def __init__(self, reranker: Any) -> None:
        self.reranker = reranker
        self.cache: dict[tuple[str, str], float] = {}

    def score_pairs(self, query: str, passages: Sequence[str]) -> list[float]:
        todo = list(dict.fromkeys(p for p in passages if (query, p) not in self.cache))
        for p, s in zip(todo, self.reranker.score_pairs(query, todo)):
            self.cache[(query, p)] = s
        return [self.cache[(query, p)] for p in passages]


def tune(
    index: MMIndex, questions_path: str | Path, scope: str = "doc", holdout: float = 0.3,
    write: bool = True, progress: Callable[[str, int, int], None] | None = None,
) -> TuneResult:
    """Search the query settings on part of the questions, check the winner on the rest, write it when asked.

    The winner is written (to the index's stored settings, used by `search`, `ask` and `eval`) only when it is
    at least as good as the current settings on the held-back questions too.
    """
    questions = [q for q in load_questions(questions_path) if q.answerable]
    tune_qs, held_qs = split_questions(questions, holdout)
    if not tune_qs:
        tune_qs, held_qs = held_qs, []
    base = index.settings.query
    space = search_space(index)
    depth = max(base.per_channel_k, max(KS))
    reranker = _CachedScores(index.reranker) if index.reranker is not None else None
    names = list(index.channels)
    cached: list[tuple[Question, Retrieval]] = []
    for i, q in enumerate(questions, start=1):
        flt = SearchFilter(docs=q.docs) if scope == "doc" and q.docs else None
        cached.append((q, retrieve(index.parts, q.question, names, flt, depth, quota_kinds=["figure", "table"],
                                   references=True, statements=True)))
        if progress:
            progress("retrieving", i, len(questions))
    tune_ids = {q.id for q in tune_qs}

    def measure(cfg: QuerySettings, subset: set[str] | None) -> dict[str, float]:
        cfg = replace(cfg, k=EVAL_DEPTH)
        rows = []
        for q, r in cached:
            if subset is not None and q.id not in subset:
                continue
            units = rank_units(r, cfg, reranker=reranker if cfg.reranker else None, query=r.rewritten.text)
            pages = dedupe((u.key if isinstance(u.key, tuple) else _page_of(r, u)) for u in units)
            rows.append(score_ranking(pages, q.page_refs, KS, "page"))
        return {key: round(sum(r[key] for r in rows) / len(rows), 6) for key in rows[0]} if rows else {}

    def objective(m: dict[str, float]) -> tuple[float, float]:
        return (sum(m.get(key, 0.0) for key in OBJECTIVE), m.get("mrr", 0.0))

    held_ids = {q.id for q in held_qs}
    before = {"tune": measure(base, tune_ids), "held": measure(base, held_ids) if held_qs else {}}
    best_values: dict[str, Any] = {}
    best_score = objective(before["tune"])
    stages = [{key: space[key] for key in stage if key in space} for stage in STAGES]
    total = sum(math.prod(len(values) for values in grid.values()) for grid in stages)
    tried = 0
    for grid in stages:
        fixed = dict(best_values)
        for combo in itertools.product(*grid.values()):
            values = {**fixed, **dict(zip(grid, combo))}
            tried += 1
            if _redundant(values, space):
                continue
            score = objective(measure(apply(base, values), tune_ids))
            if score > best_score:
                best_score, best_values = score, values
            if progress and (tried % 20 == 0 or tried == total):
                progress("tuning", tried, total)
    chosen_cfg = apply(base, best_values)
    after = {"tune": measure(chosen_cfg, tune_ids), "held": measure(chosen_cfg, held_ids) if held_qs else {}}
    result = TuneResult(before, after, best_values, tried, {"tune": len(tune_qs), "held": len(held_qs)})
    if not best_values:
        result.notes.append("no setting beat the current ones on the tuning questions; nothing changed")
    elif held_qs and objective(after["held"]) < objective(before["held"]):
        result.notes.append("the winner did worse on the held-back questions (overfitting): not written")
    elif write:
        index.update_settings(query=chosen_cfg)
        result.written = True
    return result


def _redundant(values: dict[str, Any], space: dict[str, list[Any]]) -> bool:
    """Candidates that rank like another one: weighted fusion under several rrf_k (rrf_k only matters to rrf),
    and every ranking of one channel switched off (both text sides)."""
    if values.get("fusion") == "weighted" and "rrf_k" in space and values["rrf_k"] != space["rrf_k"][0]:
        return True
    off: dict[str, list[bool]] = {}
    for key, value in values.items():
        ranking = key.removeprefix("weights.")
        if ranking != key and ":" in ranking:
            off.setdefault(ranking.partition(":")[0], []).append(value == 0)
    return any(len(sides) > 1 and all(sides) for sides in off.values())


def _page_of(r: Retrieval, unit: Any) -> tuple[str, int]:
    e = r.elements[unit.members[0]]
    return (e.doc, e.page)


def format_tune(data: dict[str, Any]) -> str:
    """A printable before/after table."""
    lines = [f"tried {data['tried']} settings on {data['split']['tune']} questions, "
             f"checked on {data['split']['held']} held back (objective: {' + '.join(data['objective'])})", ""]
    lines.append(f"{'split':<6} {'':<7} " + " ".join(f"{k:>12}" for k in ("page_hit@1", "page_hit@5", "mrr")))
    for split in ("tune", "held"):
        for when in ("before", "after"):
            m = data[when][split]
            if m:
                lines.append(f"{split:<6} {when:<7} " + " ".join(f"{m.get(k, 0.0):>12.3f}"
                                                                   for k in ("page_hit@1", "page_hit@5", "mrr")))
    lines.append("")
    lines.append("chosen: " + (", ".join(f"{k}={v}" for k, v in data["chosen"].items()) or "(current settings)"))
    lines.append("written to the index settings" if data["written"] else "not written")
    lines += data["notes"]
    return "\n".join(lines)
