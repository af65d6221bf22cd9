"""`mmrag eval`: run the questions through each channel and the fused ranking, score, report, compare."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.elements import Answer, Hit
from mmrag.errors import MMRagError
from mmrag.indexes.base import SearchFilter, channel_kind, list_channels

if TYPE_CHECKING:
    from mmrag.pipelines.index import MMIndex

EVAL_CHANNELS = (*list_channels(), "fused")
# one mode of a channel, e.g. one side of the text channel's hybrid query: "text:dense", "text:lexical"
DIAGNOSTIC_CHANNELS = tuple(run for name in list_channels() for run in channel_kind(name).runs()[1:])


def evaluate(
    index: MMIndex, questions_path: str | Path, scope: str = "doc", ks: Sequence[int] = (1, 5, 10),
    channels: Sequence[str] = EVAL_CHANNELS, answers: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """An EvalResult for these questions over this index."""
    from mmrag.eval.evaluator import RetrievalEvaluator
    from mmrag.eval.questions import load_questions

    unknown = set(channels) - set(EVAL_CHANNELS) - set(DIAGNOSTIC_CHANNELS)
    if unknown:
        raise MMRagError(
            f"unknown channels {sorted(unknown)}: use {', '.join(EVAL_CHANNELS + DIAGNOSTIC_CHANNELS)}"
        )
    questions = load_questions(questions_path)
    evaluator = RetrievalEvaluator(questions, ks=ks, channels=channels, scope=scope)
    available = index.channels

    def search(query: str, channel: str, flt: SearchFilter | None, k: int) -> list[Hit]:
        name = "all" if channel == "fused" else channel
        return index.search(query, channel=name, docs=flt.docs if flt else None, k=k)

    def ask(question: str, flt: SearchFilter | None) -> Answer:
        return index.ask(question, docs=flt.docs if flt else None)

    disabled = [c for c in channels if c != "fused" and c.partition(":")[0] not in available]
    result = evaluator.run(search, disabled_channels=disabled, ask=ask if answers else None, progress=progress)
    for name in disabled:
        base = name.partition(":")[0]
        result.disabled[name] = index.disabled.get(base) or index.off.get(base, "not built")
    return result


def default_channels(index: MMIndex) -> list[str]:
    """What `mmrag eval` scores when no channels are named: every channel that is not off by its settings (one
    that cannot load is listed, disabled, with the reason), and the fused ranking."""
    return [*(c for c in list_channels() if c not in index.off), "fused"]


def evaluate_command(
    index: MMIndex, questions_path: str | Path, scope: str, ks: Sequence[int], channels: Sequence[str],
    report: Path | None, answers: bool, progress: Callable[[str, int, int], None] | None = None,
) -> tuple[dict[str, Any], str]:
    """The JSON summary and a printable table; writes the report folder when asked."""
    from mmrag.eval.report import format_summary, write_report

    result = evaluate(index, questions_path, scope=scope, ks=ks, channels=channels or default_channels(index),
                      answers=answers, progress=(lambda d, t: progress("questions", d, t)) if progress else None)
    data = result.to_json()
    for name, reason in index.disabled.items():
        data.setdefault("disabled_reasons", {})[name] = reason
    if report is not None:
        write_report(result, report, page_image=lambda doc, page: _page_png(index, doc, page))
    return data, format_summary(data)


def compare_command(run_a: Path, run_b: Path) -> tuple[str, dict[str, Any]]:
    from mmrag.eval.compare import compare_runs, format_comparison

    diff = compare_runs(run_a, run_b)
    return format_comparison(diff), diff


def _page_png(index: MMIndex, doc: str, page: int) -> bytes | None:
    e = index.page_element(doc, page)
    return index.store.read_pixels(e.image) if e is not None and e.image else None
