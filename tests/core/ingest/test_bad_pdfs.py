from __future__ import annotations

import io
import os

import pymupdf
import pytest
from factories import zero_page_pdf
from PIL import Image

from mmrag.errors import BadPDF, CorruptPDF, EmptyPDF, EncryptedPDF


def _valid_pdf(pages: int = 3) -> bytes:
    doc = pymupdf.open()
    for i in range(pages):
        doc.new_page().insert_text((72, 72), f"Page {i} says hello to the world. " * 3)
    return doc.tobytes()


def test_encrypted(tmp_path, parse):
    path = tmp_path / "locked.pdf"
    doc = pymupdf.open(stream=_valid_pdf(), filetype="pdf")
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="user")
    with pytest.raises(EncryptedPDF, match="locked.pdf"):
        parse(path)


@pytest.mark.parametrize(
    "name,data",
    [
        ("random.pdf", b"%PDF-1.7\n" + os.urandom(4000)),
        ("noise.pdf", os.urandom(4000)),
        ("truncated.pdf", _valid_pdf()[: len(_valid_pdf()) // 2]),
        ("notes.pdf", b"These are my meeting notes, not a PDF at all.\n" * 20),
        ("empty.pdf", b""),
    ],
)
def test_corrupt(tmp_path, parse, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CorruptPDF, match=name):
        parse(path)


def test_zero_pages(tmp_path, parse):
    path = tmp_path / "zero.pdf"
    path.write_bytes(zero_page_pdf())
    with pytest.raises(EmptyPDF, match="zero.pdf"):
        parse(path)


def test_too_many_pages(tmp_path, parse):
    path = tmp_path / "long.pdf"
    path.write_bytes(_valid_pdf(4))
    with pytest.raises(BadPDF, match="max_pages"):
        parse(path, max_pages=3)


def test_huge_image_skipped_with_warning(tmp_path, parse, store):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "A page with one normal and one oversized image.")
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 30, 30)).save(buf, format="PNG")
    page.insert_image(pymupdf.Rect(72, 100, 272, 250), stream=buf.getvalue())
    buf = io.BytesIO()
    Image.new("RGB", (60, 45), (30, 30, 200)).save(buf, format="PNG")
    page.insert_image(pymupdf.Rect(72, 400, 272, 550), stream=buf.getvalue())
    path = tmp_path / "huge.pdf"
    doc.save(path)

    parsed = parse(path, max_image_pixels=100_000)
    assert any("max_image_pixels" in w for w in parsed.warnings)
    figures = [e for e in parsed.elements if e.kind == "figure"]
    assert len(figures) == 1 and figures[0].bbox[1] >= 399
    assert [e.kind for e in parsed.elements].count("page") == 1
