"""The table finder's character list built by `make_chars_fast` is exactly PyMuPDF's own `make_chars` output (every
key, every float to the bit), so the tables found do not change; pages with an unusual matrix use PyMuPDF's code."""

from __future__ import annotations

import math

import pymupdf
import pymupdf.table
import pytest

from mmrag.ingest import tables


def _same(a: object, b: object) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)  # type: ignore[arg-type]
    return type(a) is type(b) and a == b


def _chars(make_chars, page: pymupdf.Page) -> list[dict]:
    pymupdf.table._CHARS_VAR.set([])
    make_chars(page)
    return list(pymupdf.table.CHARS)


def _page(doc: pymupdf.Document, **kw) -> pymupdf.Page:
    page = doc.new_page(**kw)
    page.insert_text((72, 80), "Segment revenue (in millions)", fontsize=11, fontname="hebo", color=(0.1, 0.2, 0.6))
    for i, row in enumerate([("Region", "2022", "2021"), ("Europe", "1,204.5", "1,101.0"), ("Asia", "998.25", "87")]):
        for j, cell in enumerate(row):
            page.insert_text((72 + 120 * j, 120 + 18 * i), cell, fontsize=9.5, fontname="helv" if i else "hebo")
    page.draw_rect(pymupdf.Rect(70, 108, 430, 164), color=(0, 0, 0), width=0.5)
    page.insert_text((500, 300), "rotated margin note", fontsize=8, rotate=90)
    page.insert_text((72, 400), "ﬁnal ligature, tab\tand    spaces", fontsize=10)
    return page


@pytest.mark.skipif(not tables._make_chars_matches(), reason="another PyMuPDF make_chars: the fast path is off")
@pytest.mark.parametrize("shape", ["letter", "odd size", "cropped"])
def test_make_chars_fast_builds_exactly_pymupdfs_character_list(shape: str) -> None:
    doc = pymupdf.open()
    page = _page(doc, width=613.7, height=791.3) if shape == "odd size" else _page(doc)
    if shape == "cropped":
        page.set_cropbox(pymupdf.Rect(20.5, 31.25, 580, 700))
    expected = _chars(tables._ORIGINAL_MAKE_CHARS, page)
    got = _chars(tables.make_chars_fast, page)
    assert len(expected) > 100 and len(got) == len(expected)
    for e, g in zip(expected, got):
        assert e.keys() == g.keys() and all(_same(e[k], g[k]) for k in e), (e, g)


def test_a_rotated_page_matches_too_and_find_tables_restores_pymupdfs_function() -> None:
    doc = pymupdf.open()
    page = _page(doc)
    page.set_rotation(90)
    original = tables._ORIGINAL_MAKE_CHARS
    assert _chars(tables.make_chars_fast, page) == _chars(original, page)
    found = tables.find_tables(doc[0])
    assert pymupdf.table.make_chars is original  # the swap lasts one call
    assert all(t.n_cols >= 2 for t in found)


def test_an_unusual_page_matrix_uses_pymupdfs_own_code(monkeypatch) -> None:
    doc = pymupdf.open()
    page = _page(doc)
    calls: list[int] = []
    original = tables._ORIGINAL_MAKE_CHARS
    monkeypatch.setattr(tables, "_ORIGINAL_MAKE_CHARS", lambda p, clip=None: calls.append(1) or original(p, clip))
    monkeypatch.setattr(pymupdf.Page, "transformation_matrix", property(lambda self: pymupdf.Matrix(2, 0, 0, -2, 0, 9)))
    tables.make_chars_fast(page)
    assert calls == [1]


@pytest.mark.skipif(not tables._chars_in_rect_matches(), reason="another PyMuPDF chars_in_rect: the fast path is off")
def test_chars_in_rect_fast_answers_as_pymupdfs_probe() -> None:
    doc = pymupdf.open()
    page = _page(doc)
    chars = _chars(tables._ORIGINAL_MAKE_CHARS, page)
    probes = [pymupdf.Rect(x, y, x + w, y + h) for x in (0, 60, 71, 190, 430) for y in (0, 100, 110, 390, 700)
              for w in (5, 40, 130, 600) for h in (4, 12, 60)]
    probes += [pymupdf.Rect(c["x0"], c["y0"], c["x1"], c["y1"]) for c in chars[::7]]  # exactly one glyph's box
    probes += [pymupdf.Rect(c["x0"] + 0.01, c["y0"], c["x1"], c["y1"]) for c in chars[::7]]  # a hair inside it
    expected = [pymupdf.table.chars_in_rect(chars, r) for r in probes]
    assert any(expected) and not all(expected)
    assert [tables.chars_in_rect_fast(chars, r) for r in probes] == expected
    pymupdf.table._CHARS_VAR.set(chars)  # the finder passes its CHARS proxy, over whatever list is current
    assert [tables.chars_in_rect_fast(pymupdf.table.CHARS, r) for r in probes] == expected
    with tables._fast_chars():
        assert pymupdf.table.chars_in_rect is tables.chars_in_rect_fast
    assert pymupdf.table.chars_in_rect is not tables.chars_in_rect_fast  # the swap lasts one call


@pytest.mark.parametrize("small_glyph_heights", [False, True])
def test_textboxes_read_once_give_what_pymupdfs_get_textbox_gives(small_glyph_heights: bool) -> None:
    """The header finder names external header columns with `page.get_textbox`, which walks every glyph of the
    page in Python per call; `_Textboxes` answers from one extraction, with the same text."""
    doc = pymupdf.open()
    page = _page(doc)
    page.insert_text((72, 200), "Two words\nand a second line", fontsize=10)
    page.insert_text((72, 240), "back\\slash and ünïcode", fontsize=10)
    old = pymupdf.TOOLS.set_small_glyph_heights()
    pymupdf.TOOLS.set_small_glyph_heights(small_glyph_heights)
    try:
        fast = tables._Textboxes(page)
        boxes = [(60, 100, 450, 170), (70, 108, 190, 125), (72, 190, 300, 230), (72, 230, 300, 250),
                 (0, 0, 612, 792), (300, 500, 310, 510), (80.5, 186, 81.0, 215)]
        expected = [pymupdf.Page.get_textbox(page, b) for b in boxes]
        assert [fast(b) for b in boxes] == expected
    finally:
        pymupdf.TOOLS.set_small_glyph_heights(old)
    assert "\n" in expected[2] and "\\" in expected[3] and "ü" in expected[3] and expected[5] == ""
