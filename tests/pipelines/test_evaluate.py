"""`mmrag eval` on the sample corpus: the JSON summary, the report folder, comparing two runs."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from mmrag.pipelines.evaluate import compare_command, evaluate_command
from mmrag.pipelines.index import MMIndex

QUESTIONS = Path(__file__).resolve().parents[2] / "sample_corpus" / "questions.jsonl"


def test_eval_json_report_and_compare(sample_index: MMIndex, tmp_path: Path) -> None:
    run_a = tmp_path / "a"
    data, text = evaluate_command(sample_index, QUESTIONS, scope="doc", ks=[1, 5, 10],
                                  channels=["text", "image", "fused"], report=run_a, answers=False)
    assert data["n"] == 60 and data["scope"] == "doc" and data["unanswerable"] == 0
    assert set(data["metrics"]) == {"text", "image", "fused"}
    for channel in data["metrics"].values():
        assert all(0.0 <= v <= 1.0 for v in channel.values())
    assert {"Chart", "Table", "Text"} <= set(data["by_evidence"])
    # The text channel alone clears the bar; the image channel here is a random tiny CLIP.
    assert data["metrics"]["text"]["page_hit@5"] >= 0.9
    assert "page_hit@5" in text
    for name in ("report.md", "summary.json", "rankings.jsonl", "metric_at_k.png", "by_evidence.png"):
        assert (run_a / name).exists(), name
    for png in run_a.glob("*.png"):
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width > 100
    assert len((run_a / "rankings.jsonl").read_text().splitlines()) == 60
    thumbs = list((run_a / "thumbnails").glob("*.png"))
    assert thumbs

    run_b = tmp_path / "b"
    sample_index.settings.query.weights = {"text": 1.0, "image": 0.0}
    try:
        evaluate_command(sample_index, QUESTIONS, scope="doc", ks=[1, 5, 10], channels=["text", "fused"],
                         report=run_b, answers=False)
    finally:
        sample_index.settings.query.weights = {"text": 1.0, "image": 1.0}
    printed, diff = compare_command(run_a, run_b)
    assert "fused" in diff["metrics"] and "page_hit@5" in diff["metrics"]["fused"]
    assert "page_hit@5" in printed


def test_eval_answers_with_the_extractive_generator(sample_index: MMIndex, tmp_path: Path) -> None:
    subset = tmp_path / "q.jsonl"
    lines = QUESTIONS.read_text().splitlines()[:6]
    lines.append(json.dumps({"id": "none", "question": "What is not in here?", "doc": "finfet_yield_paper.pdf",
                             "pages": []}))
    subset.write_text("\n".join(lines) + "\n")
    data, _ = evaluate_command(sample_index, subset, scope="corpus", ks=[1, 5], channels=["text", "fused"],
                               report=None, answers=True)
    assert data["unanswerable"] == 1 and data["n"] == 6
    answer = data["answer"]
    assert answer["generator"] == "extractive" and answer["depends_on_generator"] is True
    assert 0.0 <= answer["token_f1"] <= 1.0 and answer["citation_accuracy"] is not None
