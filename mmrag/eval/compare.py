"""Compares two evaluation runs: metric differences and the questions whose retrieval changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmrag.errors import MMRagError
from mmrag.eval.report import RANKINGS, SUMMARY

ANSWER_KEYS = ("exact_match", "token_f1", "anls", "citation_accuracy", "unanswerable_abstained")


class BadRun(MMRagError):
    """A path that is neither a report directory nor a summary.json."""


def load_run(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(summary, per-question records by id) from a report directory or a summary json file.

    Per-question records come from rankings.jsonl in the same directory; without it only metrics are compared.
    """
    p = Path(path)
    summary_path = p / SUMMARY if p.is_dir() else p
    if not summary_path.is_file():
        raise BadRun(f"{p}: no {SUMMARY} here; give a directory written by `mmrag eval --report` or its summary.json")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadRun(f"{summary_path}: not JSON ({exc.msg})") from None
    records: dict[str, dict[str, Any]] = {}
    rankings = summary_path.parent / RANKINGS
    if rankings.is_file():
        for line in rankings.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                records[rec["id"]] = rec
    return summary, records


def _delta(a: float | None, b: float | None) -> dict[str, float | None]:
    return {"a": a, "b": b, "delta": None if a is None or b is None else round(b - a, 6)}


def _question_changes(ra: dict[str, Any], rb: dict[str, Any]) -> list[dict[str, Any]]:
    """Per channel scored in both runs: hit@k flips and a changed rank of the first evidence page."""
    out = []
    for ch, ma in ra.get("metrics", {}).items():
        mb = rb.get("metrics", {}).get(ch)
        if mb is None:
            continue
        flips = [{"metric": k, "a": ma[k], "b": mb[k]} for k in ma if "_hit@" in k and k in mb and ma[k] != mb[k]]
        rank_a = ra.get("first_evidence_rank", {}).get(ch)
        rank_b = rb.get("first_evidence_rank", {}).get(ch)
        if flips or rank_a != rank_b:
            out.append(
                {
                    "id": ra["id"],
                    "question": ra["question"],
                    "channel": ch,
                    "flips": flips,
                    "rank": {"a": rank_a, "b": rank_b},
                }
            )
    return out


def compare_runs(a: str | Path, b: str | Path) -> dict[str, Any]:
    """Per-metric differences (b - a) per channel and answer metric, settings that differ, changed questions."""
    sa, qa = load_run(a)
    sb, qb = load_run(b)
    settings = {
        key: {"a": sa.get(key), "b": sb.get(key)}
        for key in ("scope", "ks", "depth", "n", "unanswerable", "disabled_channels")
        if sa.get(key) != sb.get(key)
    }
    metrics: dict[str, dict[str, Any]] = {}
    for ch in dict.fromkeys([*sa.get("metrics", {}), *sb.get("metrics", {})]):
        ma, mb = sa["metrics"].get(ch, {}), sb["metrics"].get(ch, {})
        metrics[ch] = {k: _delta(ma.get(k), mb.get(k)) for k in dict.fromkeys([*ma, *mb])}
    answer = None
    if sa.get("answer") or sb.get("answer"):
        aa, ab = sa.get("answer") or {}, sb.get("answer") or {}
        answer = {"generator": {"a": aa.get("generator"), "b": ab.get("generator")}}
        answer.update({k: _delta(aa.get(k), ab.get(k)) for k in ANSWER_KEYS})
    questions = []
    for qid in sorted(qa.keys() & qb.keys()):
        questions += _question_changes(qa[qid], qb[qid])
    return {
        "a": str(a),
        "b": str(b),
        "settings": settings,
        "metrics": metrics,
        "answer": answer,
        "questions": questions,
        "n_changed": len({q["id"] for q in questions}),
        "only_in_a": sorted(qa.keys() - qb.keys()),
        "only_in_b": sorted(qb.keys() - qa.keys()),
        "per_question": bool(qa and qb),
    }


def _val(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def _signed(v: float | None) -> str:
    return "–" if v is None else f"{v:+.3f}"


def format_comparison(cmp: dict[str, Any], max_questions: int = 30) -> str:
    """Plain-text rendering of `compare_runs` for the terminal."""
    lines = [f"A: {cmp['a']}", f"B: {cmp['b']}"]
    for key, v in cmp["settings"].items():
        lines.append(f"setting {key} differs: A={v['a']} B={v['b']}")
    for ch, metrics in cmp["metrics"].items():
        lines += ["", f"[{ch}]", f"  {'metric':<18}{'A':>8}{'B':>8}{'B-A':>9}"]
        for k, d in metrics.items():
            lines.append(f"  {k:<18}{_val(d['a']):>8}{_val(d['b']):>8}{_signed(d['delta']):>9}")
    if cmp["answer"]:
        gen = cmp["answer"]["generator"]
        lines += ["", f"[answer] (depends on the generator: A={gen['a']} B={gen['b']})"]
        for k in ANSWER_KEYS:
            d = cmp["answer"][k]
            lines.append(f"  {k:<24}{_val(d['a']):>8}{_val(d['b']):>8}{_signed(d['delta']):>9}")
    if not cmp["per_question"]:
        lines += ["", "per-question rankings missing in one run: only metrics compared"]
        return "\n".join(lines)
    lines += ["", f"{cmp['n_changed']} question(s) changed"]
    for q in cmp["questions"][:max_questions]:
        flips = ", ".join(f"{f['metric']} {f['a']:.0f}→{f['b']:.0f}" for f in q["flips"])
        rank = f"first evidence rank {q['rank']['a']}→{q['rank']['b']}"
        lines.append(f"  {q['id']} [{q['channel']}] {rank}" + (f"; {flips}" if flips else ""))
    if len(cmp["questions"]) > max_questions:
        lines.append(f"  … {len(cmp['questions']) - max_questions} more")
    for side in ("only_in_a", "only_in_b"):
        if cmp[side]:
            lines.append(f"{side.replace('_', ' ')}: {', '.join(cmp[side])}")
    return "\n".join(lines)
