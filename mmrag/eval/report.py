"""Writes an evaluation run to a directory: report.md, PNG plots, thumbnails, rankings.jsonl and summary.json."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from mmrag.eval.metrics import metric_names
from mmrag.eval.plots import plot_by_evidence, plot_metric_curves
from mmrag.eval.result import EvalResult, QuestionRecord

PageImageFn = Callable[[str, int], "bytes | None"]

SUMMARY = "summary.json"
RANKINGS = "rankings.jsonl"
THUMB_WIDTH = 240


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else ("–" if v is None else str(v))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _metrics_table(by_channel: dict[str, dict[str, float]], keys: Sequence[str]) -> list[str]:
    keys = [k for k in keys if any(k in m for m in by_channel.values())]
    if not keys:
        return []
    return _table(["channel", *keys], [[ch, *(m.get(k) for k in keys)] for ch, m in by_channel.items()])


def primary_channel(channels: Sequence[str]) -> str | None:
    """The channel the worst-question list ranks by: fused when enabled, else the first enabled one."""
    return "fused" if "fused" in channels else (channels[0] if channels else None)


def worst_questions(result: EvalResult, n: int = 10) -> list[QuestionRecord]:
    """Up to n answerable questions with MRR below 1 on the primary channel, lowest first (ties: hit@max k, id)."""
    ch = primary_channel(result.channels)
    if ch is None:
        return []
    kmax = max(result.ks)
    scored = [r for r in result.records if ch in r.metrics and r.metrics[ch]["mrr"] < 1.0]
    scored.sort(key=lambda r: (r.metrics[ch]["mrr"], r.metrics[ch][f"page_hit@{kmax}"], r.question.id))
    return scored[:n]


def _thumbnail(page_image: PageImageFn | None, doc: str, page: int, out_dir: Path) -> str | None:
    """Relative path of a saved page thumbnail, or None when the caller has no image for the page."""
    if page_image is None:
        return None
    data = page_image(doc, page)
    if not data:
        return None
    name = f"{re.sub(r'[^A-Za-z0-9._-]+', '_', doc)}_p{page}.png"
    target = out_dir / "thumbnails" / name
    if not target.exists():
        try:
            img = Image.open(io.BytesIO(data))
            img.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 2))
            target.parent.mkdir(parents=True, exist_ok=True)
            img.convert("RGB").save(target, format="PNG")
        except (UnidentifiedImageError, OSError, ValueError):
            return None
    return f"thumbnails/{name}"


def _worst_section(result: EvalResult, out_dir: Path, page_image: PageImageFn | None) -> list[str]:
    ch = primary_channel(result.channels)
    worst = worst_questions(result)
    if ch is None or not worst:
        return []
    lines = [f"## Worst questions ({ch}, by MRR)", ""]
    for r in worst:
        q = r.question
        ranks = ", ".join(f"{c}: {_fmt(r.first_evidence_rank.get(c))}" for c in result.channels)
        evidence = ", ".join(f"{d} p.{p}" for d, p in q.page_refs)
        lines += [f"### `{q.id}` — {q.question}", ""]
        lines += [f"- evidence: {evidence} ({', '.join(q.evidence) or 'type not given'})"]
        lines += [f"- rank of the first evidence page: {ranks}"]
        seen: list[tuple[str, int]] = []
        retrieved = []
        for item in r.rankings.get(ch, []):
            key = (item["doc"], item["page"])
            if key not in seen:
                seen.append(key)
                mark = " ✓" if key in set(q.page_refs) else ""
                retrieved.append(f"{key[0]} p.{key[1]} ({item['kind']}){mark}")
            if len(seen) == 5:
                break
        lines += [f"- retrieved instead (top pages): {'; '.join(retrieved) or 'nothing'}", ""]
        thumbs = [(f"evidence {d} p.{p}", _thumbnail(page_image, d, p, out_dir)) for d, p in q.page_refs[:3]]
        if seen and seen[0] not in set(q.page_refs):
            thumbs.append((f"top-1 {seen[0][0]} p.{seen[0][1]}", _thumbnail(page_image, *seen[0], out_dir)))
        images = [f"![{label}]({path})" for label, path in thumbs if path]
        if images:
            lines += [" ".join(images), ""]
    return lines


def render_markdown(result: EvalResult, summary: dict[str, Any], out_dir: Path, page_image: PageImageFn | None) -> str:
    """The report's Markdown text; plots and thumbnails are referenced by relative path."""
    page_keys, element_keys = metric_names(result.ks, "page"), metric_names(result.ks, "element")
    lines = ["# mmrag retrieval evaluation", ""]
    lines += [
        f"- scope: **{summary['scope']}**, questions scored: **{summary['n']}**, "
        f"unanswerable (not scored): **{summary['unanswerable']}**",
        f"- k: {', '.join(map(str, result.ks))}; elements retrieved per channel: {result.depth}; "
        f"time: {summary['seconds']:.1f} s",
        "- a page counts at the rank of its first retrieved element; MRR is over the retrieved depth",
    ]
    for ch, reason in result.disabled.items():
        lines.append(f"- channel **{ch}** disabled, not scored: {reason}")
    lines += ["", "## Page-level retrieval", ""] + _metrics_table(summary["metrics"], page_keys)
    lines += ["![metric@k per channel](metric_at_k.png)", ""]
    element_table = _metrics_table(summary["metrics"], element_keys)
    if element_table:
        lines += [f"## Element-level retrieval (questions naming elements: {summary['n_with_elements']})", ""]
        lines += element_table
    if summary["by_evidence"]:
        lines += ["## By evidence type", ""]
        short = [k for k in page_keys if k.startswith("page_hit") or k == "mrr"]
        for ev, by_channel in summary["by_evidence"].items():
            lines += [f"**{ev}** (n={summary['n_by_evidence'][ev]})", ""] + _metrics_table(by_channel, short)
        lines += ["![by evidence type](by_evidence.png)", ""]
    cap = summary.get("text_caption_hits")
    if cap and cap["questions"]:
        lines += [
            "## Text channel via captions",
            "",
            f"Of {cap['questions']} figure/chart/table questions, the text channel put an evidence page in the top "
            f"{cap['within_k']} for {cap['found']}; for {cap['via_caption']} of them (share {_fmt(cap['share'])}) "
            "the element that did so was a caption, or a figure/table matched through its caption.",
            "",
        ]
    ans = summary.get("answer")
    if ans:
        lines += [f"## Answer quality — depends on the generator: `{ans['generator']}`", ""]
        keys = ["n", "exact_match", "token_f1", "anls", "citation_accuracy", "unanswerable_abstained"]
        lines += _table(keys, [[ans[k] for k in keys]])
    if result.unanswerable:
        lines += ["## Unanswerable questions (reported apart)", ""]
        lines += [f"- `{r.question.id}` — {r.question.question}" for r in result.unanswerable] + [""]
    lines += _worst_section(result, out_dir, page_image)
    return "\n".join(lines) + "\n"


def write_report(result: EvalResult, out_dir: str | Path, page_image: PageImageFn | None = None) -> Path:
    """Write report.md, metric_at_k.png, by_evidence.png, thumbnails/, rankings.jsonl and summary.json.

    page_image(doc, page) -> PNG/JPEG bytes or None gives the thumbnails of evidence pages. Returns report.md's path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.to_json()
    (out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    with (out / RANKINGS).open("w", encoding="utf-8") as f:
        for rec in result.records + result.unanswerable:
            f.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
    if summary["metrics"]:
        plot_metric_curves(summary, out / "metric_at_k.png")
    if summary["by_evidence"] and summary["metrics"]:
        k = 5 if 5 in result.ks else max(result.ks)
        plot_by_evidence(summary, f"page_hit@{k}", out / "by_evidence.png")
    report = out / "report.md"
    report.write_text(render_markdown(result, summary, out, page_image), encoding="utf-8")
    return report


def format_summary(summary: dict[str, Any]) -> str:
    """Plain-text summary of `EvalResult.to_json()` for the terminal: one row per channel, page-level metrics."""
    lines = [f"scope {summary['scope']}: {summary['n']} questions scored, {summary['unanswerable']} unanswerable apart"]
    keys = [k for k in metric_names(summary["ks"], "page") if not k.startswith("page_recall")]
    latency = summary.get("latency_ms", {})
    if summary["metrics"]:
        width = max(8, *(len(ch) + 1 for ch in summary["metrics"]))
        lines.append(f"{'channel':<{width}}" + "".join(f"{k:>13}" for k in keys) + f"{'p50 ms':>9}")
        for ch, metrics in summary["metrics"].items():
            p50 = latency.get(ch, {}).get("p50")
            lines.append(f"{ch:<{width}}" + "".join(f"{_fmt(metrics.get(k)):>13}" for k in keys)
                         + f"{'' if p50 is None else p50:>9}")
    if summary["disabled_channels"]:
        lines.append(f"disabled (not scored): {', '.join(summary['disabled_channels'])}")
    ans = summary.get("answer")
    if ans:
        lines.append(
            f"answers (depend on generator {ans['generator']}): EM {_fmt(ans['exact_match'])}  "
            f"F1 {_fmt(ans['token_f1'])}  ANLS {_fmt(ans['anls'])}  citations {_fmt(ans['citation_accuracy'])}"
        )
    return "\n".join(lines)
