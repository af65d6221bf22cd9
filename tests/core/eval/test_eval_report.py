from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mmrag.eval.compare import BadRun, compare_runs, format_comparison
from mmrag.eval.evaluator import RetrievalEvaluator
from mmrag.eval.report import format_summary, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _page_png(doc: str, page: int) -> bytes | None:
    if doc != "a.pdf":
        return None
    buf = io.BytesIO()
    Image.new("RGB", (600, 800), (200, 220, 240)).save(buf, format="PNG")
    return buf.getvalue()


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as img:
        img.verify()


def test_report_files(tmp_path: Path, questions, fake_search) -> None:
    result = RetrievalEvaluator(questions).run(fake_search())
    report = write_report(result, tmp_path / "run", page_image=_page_png)
    out = report.parent
    assert report.name == "report.md"
    for name in ("metric_at_k.png", "by_evidence.png"):
        _assert_png(out / name)
    thumbs = sorted((out / "thumbnails").glob("*.png"))
    assert thumbs and all(Image.open(t).width <= 240 for t in thumbs)
    for t in thumbs:
        _assert_png(t)
    text = report.read_text()
    assert "Worst questions" in text and "thumbnails/a.pdf_p" in text and "metric_at_k.png" in text
    assert "Unanswerable" in text and "q3" in text
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(result.to_json()))
    rows = [json.loads(x) for x in (out / "rankings.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    first = rows[0]["rankings"]["text"][0]
    assert {"doc", "page", "element_id", "kind"} <= set(first)
    assert rows[0]["metrics"]["text"]["mrr"] == 0.5 and rows[2]["answerable"] is False
    assert "text" in format_summary(result.to_json())


def test_report_without_images_or_channels(tmp_path: Path, questions, fake_search) -> None:
    result = RetrievalEvaluator(questions).run(fake_search(), disabled_channels=("text", "image", "fused"))
    report = write_report(result, tmp_path / "empty")
    assert "disabled" in report.read_text()
    assert not (tmp_path / "empty" / "thumbnails").exists()


def test_compare_detects_changed_question(tmp_path: Path, questions, fake_search, make_hit) -> None:
    base = RetrievalEvaluator(questions).run(fake_search())
    hits = [make_hit("a.pdf", 2, eid="a2-t"), make_hit("a.pdf", 9), make_hit("a.pdf", 3)]
    changed = RetrievalEvaluator(questions).run(fake_search({("q2", "text"): hits}))
    write_report(base, tmp_path / "a")
    write_report(changed, tmp_path / "b")

    cmp = compare_runs(tmp_path / "a", tmp_path / "b" / "summary.json")
    assert cmp["metrics"]["text"]["page_hit@1"] == {"a": 0.5, "b": 0.0, "delta": -0.5}
    assert cmp["metrics"]["fused"]["mrr"]["delta"] == 0.0
    assert cmp["n_changed"] == 1 and cmp["settings"] == {}
    (q,) = cmp["questions"]
    assert (q["id"], q["channel"]) == ("q2", "text")
    assert q["rank"] == {"a": 1, "b": 3}
    assert {"metric": "page_hit@1", "a": 1.0, "b": 0.0} in q["flips"]
    text = format_comparison(cmp)
    assert "q2 [text]" in text and "-0.500" in text

    assert compare_runs(tmp_path / "a", tmp_path / "a")["n_changed"] == 0
    with pytest.raises(BadRun):
        compare_runs(tmp_path / "nowhere", tmp_path / "a")
