"""`mmrag index` optimises the Qdrant Edge shard by itself once enough points sit in plain segments."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mmrag.cli.app import app
from mmrag.pipelines.index import open_index
from mmrag.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
PDF = SAMPLE / "finfet_yield_paper.pdf"


def settings(**text: object) -> Settings:
    overrides = {"image.enabled": False, "ingest.ocr": "none", **{f"text.{k}": v for k, v in text.items()}}
    return Settings().updated(overrides)


def text_status(root: Path) -> dict:
    result = CliRunner().invoke(app, ["inspect", "--index", str(root), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["channels"]["text"]


def test_index_optimises_past_the_threshold_and_inspect_shows_it(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    # Below the floor (default 20k points) nothing is optimised: every point stays in a plain segment.
    with open_index(root, settings()) as index:
        assert index.add([PDF]).ok
    plain = text_status(root)
    assert plain["points"] > 10 and plain["plain_points"] == plain["points"]

    # Threshold 1.0 turns it off, whatever the floor.
    with open_index(root, settings(optimize_min_points=10, optimize_threshold=1.0)) as index:
        assert index.add([PDF]).unchanged == [PDF.name]
    assert text_status(root)["plain_points"] == plain["points"]

    # A floor of 10 points: the next run builds HNSW by itself (even with nothing to add), no --optimize needed.
    with open_index(root, settings(optimize_min_points=10, optimize_threshold=0.1)) as index:
        assert index.add([PDF]).unchanged == [PDF.name]
        assert not index.channels["text"].optimize_due()  # nothing left: the next run will not optimise again
    status = text_status(root)
    assert status["points"] == plain["points"]
    assert status["plain_points"] == 0 and status["indexed_vectors"] >= status["points"]
