"""One error boundary: every bad flag, settings file or question file is one line on stderr and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrag.cli.app import app
from mmrag.pipelines.manifest import write_manifest
from mmrag.settings import Settings

runner = CliRunner()


@pytest.fixture
def empty_index(tmp_path: Path) -> Path:
    """An index folder with a manifest and no documents (nothing to load: errors come before any model)."""
    root = tmp_path / "idx"
    root.mkdir()
    write_manifest(root, {"settings": Settings().updated({"image.enabled": False, "ingest.ocr": "none"}).to_dict()})
    return root


def one_line_error(args: list[str], *needles: str) -> str:
    result = runner.invoke(app, args)
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in result.output + err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_unknown_kind(empty_index: Path) -> None:
    one_line_error(["search", "x", "--index", str(empty_index), "--kind", "figure,bogus"],
                   "--kind", "'bogus'", "text, figure, table, page")


def test_unknown_channel(empty_index: Path) -> None:
    one_line_error(["search", "x", "--index", str(empty_index), "--channel", "bogus"],
                   "--channel", "'bogus'", "all, fused, text, text:dense, text:lexical, image")


def test_unknown_scope_channels_and_cutoffs(empty_index: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "1", "question": "q?", "doc": "a.pdf", "pages": [1]}) + "\n")
    base = ["eval", str(questions), "--index", str(empty_index)]
    one_line_error([*base, "--scope", "weird"], "--scope", "'weird'", "doc, corpus")
    one_line_error([*base, "--channels", "text,nope"], "--channels", "'nope'", "fused")
    one_line_error([*base, "--k", "1,x"], "--k", "'1,x'")


def test_malformed_question_file_names_the_line(empty_index: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    good = json.dumps({"id": "1", "question": "q?", "doc": "a.pdf", "pages": [1]})
    questions.write_text(good + "\n{not json\n")
    one_line_error(["eval", str(questions), "--index", str(empty_index)], f"{questions}:2", "not JSON")
    questions.write_text(good + "\n" + json.dumps({"id": "2", "doc": "a.pdf", "pages": [1]}) + "\n")
    one_line_error(["eval", str(questions), "--index", str(empty_index)], f"{questions}:2", "'question'")


def test_unknown_settings_key_names_its_nested_path(tmp_path: Path) -> None:
    config = tmp_path / "mmrag.toml"
    config.write_text('[query]\nfusion = "rrf"\nnope = 3\n')
    idx = tmp_path / "idx"
    one_line_error(["index", "--index", str(idx), "--config", str(config)], str(config), "'query.nope'", "fusion")
    assert not (idx / "manifest.json").exists()
    config.write_text('[nonsense]\nx = 1\n')
    one_line_error(["index", "--index", str(idx), "--config", str(config)], "'nonsense'", "ingest, text, image")


def test_bad_values_in_a_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "mmrag.toml"
    config.write_text('[query]\nfusion = "max"\n')
    one_line_error(["index", "--index", str(tmp_path / "i"), "--config", str(config)],
                   "query.fusion", "'max'", "rrf, weighted")
    config.write_text('[ingest]\nocr = "abbyy"\n')
    one_line_error(["index", "--index", str(tmp_path / "i"), "--config", str(config)],
                   "ingest.ocr", "'abbyy'", "auto, rapidocr, tesseract, none")
    config.write_text('[query]\nk = "ten"\n')
    one_line_error(["index", "--index", str(tmp_path / "i"), "--config", str(config)], "query.k", "'ten'", "int")
    config.write_text('[query\nk = 3\n')
    one_line_error(["index", "--index", str(tmp_path / "i"), "--config", str(config)], str(config), "TOML")
    json_config = tmp_path / "mmrag.json"
    json_config.write_text('{"image": {"use_gpu": "sometimes"}}')
    one_line_error(["index", "--index", str(tmp_path / "i"), "--config", str(json_config)],
                   "image.use_gpu", "'sometimes'", "auto, never, always")
    one_line_error(["index", "--index", str(tmp_path / "i"), "--config", str(tmp_path / "missing.toml")],
                   "missing.toml", "cannot read")


def test_bad_flag_values_that_become_settings(empty_index: Path) -> None:
    before = (empty_index / "manifest.json").read_text()
    one_line_error(["index", "--index", str(empty_index), "--ocr", "weird"],
                   "ingest.ocr", "'weird'", "auto, rapidocr, tesseract, none")
    assert (empty_index / "manifest.json").read_text() == before  # nothing was stored
    one_line_error(["ask", "q?", "--index", str(empty_index), "--generator", "gpt"],
                   "generator.backend", "'gpt'", "auto, transformers, openai, extractive")
    one_line_error(["index", "--index", str(empty_index), "--device", "gpu"], "text.device", "'gpu'", "cuda")


def test_a_bad_value_in_the_manifest_names_the_manifest(empty_index: Path) -> None:
    manifest = json.loads((empty_index / "manifest.json").read_text())
    manifest["settings"]["query"]["fusion"] = "borda"
    (empty_index / "manifest.json").write_text(json.dumps(manifest))
    one_line_error(["search", "x", "--index", str(empty_index)], "manifest.json", "query.fusion", "'borda'")
