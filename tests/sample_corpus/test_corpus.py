"""The sample corpus script is deterministic and its truth and questions match the PDFs it writes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pymupdf
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "sample_corpus" / "make_corpus.py"
CHART_EVIDENCE = {"Chart", "Table", "Figure"}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mmrag_sample_make_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    module = _load()
    a, b = tmp_path_factory.mktemp("corpus_a"), tmp_path_factory.mktemp("corpus_b")
    module.build(a)
    module.build(b)
    return a, b


@pytest.fixture(scope="module")
def truth(builds: tuple[Path, Path]) -> dict:
    return json.loads((builds[0] / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def questions(builds: tuple[Path, Path]) -> list[dict]:
    lines = (builds[0] / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_deterministic(builds: tuple[Path, Path]) -> None:
    a, b = builds
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert "truth.json" in names and "questions.jsonl" in names
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_committed_corpus_matches_script(builds: tuple[Path, Path]) -> None:
    committed = SCRIPT.parent
    for name in ("truth.json", "questions.jsonl"):
        if (committed / name).exists():
            assert (committed / name).read_text(encoding="utf-8") == (builds[0] / name).read_text(encoding="utf-8")


def test_pages_and_layout(builds: tuple[Path, Path], truth: dict) -> None:
    docs = truth["docs"]
    assert len(docs) >= 5
    total = 0
    for name, info in docs.items():
        with pymupdf.open(builds[0] / name) as doc:
            assert doc.page_count == info["pages"]
            assert doc.metadata["creationDate"] == doc.metadata["modDate"]
            total += doc.page_count
            for pno in range(1, doc.page_count + 1):
                if pno in info["scanned_pages"]:
                    continue
                text = doc[pno - 1].get_text()
                assert info["header_text"] in text
                assert f"Page {pno} of {doc.page_count}" in text
    assert 20 <= total <= 40


def test_figures_and_tables_lie_on_pages(builds: tuple[Path, Path], truth: dict) -> None:
    kinds: set[str] = set()
    n_fig = n_tab = 0
    for name, info in truth["docs"].items():
        with pymupdf.open(builds[0] / name) as doc:
            for item in info["figures"] + info["tables"]:
                page = doc[item["page"] - 1]
                rect = pymupdf.Rect(item["bbox"])
                assert not rect.is_empty and page.rect.contains(rect), (name, item)
                assert item["page"] not in info["scanned_pages"]
            for fig in info["figures"]:
                kinds.add(fig["type"])
                assert fig["caption_position"] in {"above", "below"}
                page_text = " ".join(doc[fig["page"] - 1].get_text().split())
                assert fig["caption"] in page_text, (name, fig["caption"])
                n_fig += 1
            for tab in info["tables"]:
                assert len(tab["header"]) == tab["n_cols"]
                n_tab += 1
            for logo in info["logos"]:
                r = pymupdf.Rect(logo["bbox"])
                assert r.width < 30 and r.height < 30
    assert kinds == {"vector", "raster"}
    assert n_fig >= 10 and n_tab >= 8


def test_tables_are_found(builds: tuple[Path, Path], truth: dict) -> None:
    for name, info in truth["docs"].items():
        with pymupdf.open(builds[0] / name) as doc:
            for tab in info["tables"]:
                page = doc[tab["page"] - 1]  # keep the page alive while the tables are read
                found = page.find_tables().tables
                want = pymupdf.Rect(tab["bbox"])
                match = [t for t in found if abs(pymupdf.Rect(t.bbox) & want) > 0.8 * abs(want)]
                assert match, (name, tab["caption"])
                assert match[0].row_count == tab["n_rows"] and match[0].col_count == tab["n_cols"]
                got = [c.replace(" ", "") for c in match[0].header.names]  # pymupdf may drop header spaces
                assert got == [c.replace(" ", "") for c in tab["header"]]


def test_continued_table(truth: dict) -> None:
    continued = [(name, t) for name, info in truth["docs"].items() for t in info["tables"] if t["continued"]]
    assert continued
    for name, tab in continued:
        first = [t for t in truth["docs"][name]["tables"] if t["page"] == tab["page"] - 1]
        assert first and first[-1]["header"] == tab["header"]
        assert tab["caption"].endswith("(continued)")


def test_scanned_page_has_no_text_layer(builds: tuple[Path, Path], truth: dict) -> None:
    scanned = [(name, p) for name, info in truth["docs"].items() for p in info["scanned_pages"]]
    assert scanned
    for name, pno in scanned:
        with pymupdf.open(builds[0] / name) as doc:
            page = doc[pno - 1]
            assert page.get_text().strip() == ""
            assert len(page.get_images()) == 1


def test_questions(truth: dict, questions: list[dict]) -> None:
    assert len(questions) >= 40
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids))
    allowed = {"Text", "Table", "Chart", "Figure", "Layout"}
    for q in questions:
        assert q["doc"] in truth["docs"]
        assert q["question"].strip() and str(q["answer"]).strip()
        assert q["pages"] and all(1 <= p <= truth["docs"][q["doc"]]["pages"] for p in q["pages"])
        assert set(q["evidence"]) <= allowed
    visual = [q for q in questions if CHART_EVIDENCE & set(q["evidence"])]
    assert 2 * len(visual) >= len(questions)
    scanned = [
        q
        for q in questions
        if set(q["pages"]) & set(truth["docs"][q["doc"]]["scanned_pages"]) and "Text" in q["evidence"]
    ]
    assert len(scanned) >= 2
