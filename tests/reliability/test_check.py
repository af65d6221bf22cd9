"""`mmrag check` finds an index broken on purpose (pixels, vectors, orphans, half-written documents), repairs it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pymupdf
import pytest
import torch
from factories import register_tiny_clip
from PIL import Image
from typer.testing import CliRunner

from mmrag.cli.app import app
from mmrag.indexes.qdrant_store import TextPoint
from mmrag.pipelines.index import open_index
from mmrag.settings import Settings

runner = CliRunner()


def _pdf_with_figure(path: Path, text: str) -> Path:
    with pymupdf.open() as doc:
        page = doc.new_page()
        page.insert_text((72, 72), text)
        buf = io.BytesIO()
        Image.new("RGB", (300, 200), (30, 120, 200)).save(buf, format="PNG")
        page.insert_image(pymupdf.Rect(72, 120, 372, 320), stream=buf.getvalue())
        doc.save(path)
    return path


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """An index with both channels (text: MiniLM; image: a tiny random CLIP) over two one-page documents."""
    clip = register_tiny_clip(tmp_path)
    settings = Settings().updated({"ingest.ocr": "none", "image.model": clip, "image.pretrained": "random",
                                   "image.device": "cpu"})
    root = tmp_path / "idx"
    torch.manual_seed(0)
    with open_index(root, settings) as index:
        report = index.add([_pdf_with_figure(tmp_path / "a.pdf", "The heliotrope valve opens at 88 kPa."),
                            _pdf_with_figure(tmp_path / "b.pdf", "The quokka census counted 4,210 animals.")])
        assert report.ok and sorted(index.channels) == ["image", "text"]
    return root


def check(root: Path, *extra: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["check", "--index", str(root), "--json", *extra])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def test_a_healthy_index_passes(built: Path) -> None:
    code, report = check(built)
    assert code == 0 and report["ok"] and not [f for f in report["findings"] if f["level"] == "error"]


def test_check_finds_and_repairs_what_was_broken(built: Path) -> None:
    with open_index(built) as index:
        store = index.store
        a_page = next(e for e in store.elements(doc="a.pdf") if e.kind == "page")
        b_figure = next(e for e in store.elements(doc="b.pdf") if e.kind == "figure")
        store.pixel_path(a_page.image).unlink()  # a pixel file disappears
        store.pixel_path(b_figure.image).write_bytes(b"not the png it was")  # another one is damaged
        text, image = index.channels["text"], index.channels["image"]
        text.store.delete_docs(["b.pdf"])  # b's text vectors are gone
        image.delete_docs(["a.pdf"])  # a's image vectors are gone
        dim = text.encoder.dim
        text.store.upsert([  # orphans: an element the store does not have, and a document it does not know
            TextPoint(id=7, dense=[0.1] * dim, sparse=None,
                      payload={"element_id": "f" * 16, "doc": "a.pdf", "page": 1, "kind": "text"}),
            TextPoint(id=8, dense=[0.2] * dim, sparse=None,
                      payload={"element_id": "e" * 16, "doc": "ghost.pdf", "page": 1, "kind": "text"}),
        ])
        image.flush()
        (store.pixels_dir / "ab").mkdir(exist_ok=True)
        (store.pixels_dir / "ab" / ("ab" + "0" * 62 + ".png")).write_bytes(b"unused")  # an unreferenced file

    code, report = check(built)
    assert code == 1 and not report["ok"]
    lines = {(f["check"], f["channel"], f["doc"], f["level"]) for f in report["findings"]}
    assert ("pixels", None, "a.pdf", "error") in lines and ("pixels", None, "b.pdf", "error") in lines
    assert ("vectors", "text", "b.pdf", "error") in lines  # missing, store -> channel
    assert ("vectors", "image", "a.pdf", "error") in lines
    assert ("vectors", "text", "a.pdf", "error") in lines  # orphan element, channel -> store
    assert ("vectors", "text", "ghost.pdf", "error") in lines  # orphan document
    assert ("pixels", None, None, "notice") in lines
    plain = runner.invoke(app, ["check", "--index", str(built)])
    assert plain.exit_code == 1
    assert any(ln.startswith("error vectors: text b.pdf:") for ln in plain.stdout.splitlines()), plain.stdout

    code, repaired = check(built, "--repair")
    assert code == 0 and repaired["ok"], [f for f in repaired["findings"] if not f["repaired"]]
    assert all(f["repaired"] for f in repaired["findings"]), repaired["findings"]
    code, again = check(built)
    assert code == 0 and again["findings"] == []
    with open_index(built, read_only=True) as index:
        assert index.search("quokka census", k=1, channel="text")[0].element.doc == "b.pdf"


def test_a_half_written_document_is_an_error_until_purged(built: Path) -> None:
    with open_index(built) as index:
        index.store.mark_indexing("b.pdf")
    code, report = check(built)
    assert code == 1 and any(f["doc"] == "b.pdf" and f["check"] == "store" for f in report["findings"])
    code, repaired = check(built, "--repair")
    assert code == 0, repaired
    with open_index(built, read_only=True) as index:
        assert [d["doc"] for d in index.store.documents()] == ["a.pdf"]
