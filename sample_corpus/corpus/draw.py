"""Page primitives for the sample corpus: page size, colours, embedded fonts, placed text, filled rects, tables."""

from __future__ import annotations

from collections.abc import Sequence

import pymupdf

PAGE_W, PAGE_H = 612.0, 792.0
MARGIN = 54.0

Color = tuple[float, float, float]
BLACK: Color = (0, 0, 0)
GREY: Color = (0.35, 0.35, 0.35)
LIGHT: Color = (0.88, 0.88, 0.88)
PALETTE: list[Color] = [(0.12, 0.40, 0.67), (0.90, 0.49, 0.13), (0.22, 0.60, 0.30), (0.78, 0.20, 0.22)]
PALETTE += [(0.55, 0.42, 0.70), (0.55, 0.55, 0.55)]
HEX = ["#1f66ab", "#e57d21", "#38994d", "#c73338", "#8c6bb3", "#8c8c8c"]  # the palette for matplotlib

FONT_ALIAS = {"helv": "Fhelv", "hebo": "Fhebo", "heit": "Fheit"}
_FONTS: dict[str, pymupdf.Font] = {}
_ADVANCE: dict[tuple[str, str], float] = {}


def font_obj(name: str) -> pymupdf.Font:
    """MuPDF's built-in Nimbus Sans (metric-compatible with Helvetica), embedded so that any Unicode text works."""
    if name not in _FONTS:
        _FONTS[name] = pymupdf.Font(name)
    return _FONTS[name]


def text_length(text: str, font: str = "helv", size: float = 11.0) -> float:
    """Width of text in points (cached glyph advances; the fonts have no kerning in this use)."""
    total = 0.0
    for ch in text:
        if (font, ch) not in _ADVANCE:
            _ADVANCE[font, ch] = font_obj(font).glyph_advance(ord(ch))
        total += _ADVANCE[font, ch]
    return total * size


def new_page(doc: pymupdf.Document) -> pymupdf.Page:
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    for name, alias in FONT_ALIAS.items():
        page.insert_font(fontname=alias, fontbuffer=font_obj(name).buffer)
    return page


def put(
    page: pymupdf.Page, x: float, y: float, text: str, size: float = 11.0, font: str = "helv", color: Color = BLACK,
    *, anchor: float = 0.0, rotate: int = 0,
) -> None:
    """Write one line with its baseline at y: starting at x (anchor 0), centred on x (0.5) or ending at x (1)."""
    if anchor:
        x -= text_length(text, font, size) * anchor
    page.insert_text((x, y), text, fontname=FONT_ALIAS[font], fontsize=size, color=color, rotate=rotate)


def fill_rect(page: pymupdf.Page, rect: pymupdf.Rect, fill: Color) -> None:
    shape = page.new_shape()
    shape.draw_rect(rect)
    shape.finish(color=None, fill=fill)
    shape.commit()


def draw_table(
    page: pymupdf.Page, x0: float, y0: float, widths: Sequence[float], rows: Sequence[Sequence[str]],
    row_h: float = 16.0, size: float = 8.5,
) -> pymupdf.Rect:
    """Draw a ruled grid with a bold, shaded header row, the first column left-aligned and the others right-aligned;
    return the table's rect."""
    xs = [x0]
    for w in widths:
        xs.append(xs[-1] + w)
    ys = [y0 + row_h * i for i in range(len(rows) + 1)]
    fill_rect(page, pymupdf.Rect(xs[0], ys[0], xs[-1], ys[1]), (0.90, 0.93, 0.97))
    for y in ys:
        page.draw_line((xs[0], y), (xs[-1], y), color=BLACK, width=0.6)
    for x in xs:
        page.draw_line((x, ys[0]), (x, ys[-1]), color=BLACK, width=0.6)
    for r, row in enumerate(rows):
        font = "hebo" if r == 0 else "helv"
        base = ys[r] + row_h / 2 + size * 0.35
        put(page, xs[0] + 4, base, row[0], size, font)
        for c, cell in enumerate(row[1:], start=1):
            put(page, xs[c + 1] - 4, base, cell, size, font, anchor=1)
    return pymupdf.Rect(xs[0], ys[0], xs[-1], ys[-1])
