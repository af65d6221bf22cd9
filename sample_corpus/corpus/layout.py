"""Document specs and the builder that lays them out.

A ``Doc`` is a title block plus a list of pages. A page is a list of blocks placed top to bottom from a y cursor,
each ``gap`` points below where the one before ended: text in two columns (``Cols``) or across the page (``Full``),
a ``Figure`` or a ``Table``. A ``Scanned`` page has its blocks rendered to a bare image. Tables and questions are
written as pipe tables (``pipe_rows``). The builder records where every figure, table and logo lands: the document's
entry in ``truth.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pymupdf

from .charts import BarChart, LineChart, Picture, PieChart, logo_png
from .draw import BLACK, GREY, MARGIN, PAGE_W, Color, draw_table, new_page, put, text_length

GAP = 18.0
COL_W = (PAGE_W - 2 * MARGIN - GAP) / 2
TOP = 66.0
BOTTOM = 742.0
BODY = 9.5
LEADING = 1.32
FOOTER_PATTERN = r"^Page \d+ of \d+$"
PDF_DATE = "D:20240601120000Z"
SAVE = dict(garbage=4, deflate=True, deflate_images=True, deflate_fonts=True, no_new_id=True, reproducible=True)


def pipe_rows(text: str) -> list[list[str]]:
    """The rows of a pipe table, one a line with its cells split at '|' (the first row is the header); a line that
    starts with '|' carries on the row above."""
    rows: list[list[str]] = []
    for line in text.strip().splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if cells[0]:
            rows.append(cells)
        else:
            rows[-1] += cells[1:]
    return rows


@dataclass
class Col:
    """A text column: horizontal extent and the current y cursor (top of the next line box)."""

    x0: float
    x1: float
    y: float


def wrap(text: str, width: float, size: float, font: str = "helv") -> list[str]:
    lines: list[str] = []
    cur = ""
    for word in text.split():
        cand = f"{cur} {word}" if cur else word
        if text_length(cand, font, size) <= width:
            cur = cand
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    return lines


def write_lines(
    page: pymupdf.Page, col: Col, text: str, size: float, font: str = "helv", color: Color = BLACK, after: float = 0.0
) -> None:
    for line in wrap(text, col.x1 - col.x0, size, font):
        put(page, col.x0, col.y + size, line, size, font, color)
        col.y += size * LEADING
    col.y += after
    if col.y > BOTTOM + 1:
        raise ValueError(f"text overflows the page bottom on page {page.number + 1}: {text[:40]!r}")


def caption_at(page: pymupdf.Page, x0: float, x1: float, y: float, text: str) -> float:
    """Write a caption whose first line box starts at y; return the y below it."""
    col = Col(x0, x1, y)
    write_lines(page, col, text, 9.0, font="heit", color=(0.1, 0.1, 0.1))
    return col.y


@dataclass
class Lines:
    """Text wrapped to its column, ``before`` and ``after`` points around it. In a column a plain string is a body
    paragraph, Lines(text, after=5)."""

    text: str
    size: float = BODY
    font: str = "helv"
    after: float = 0.0
    before: float = 0.0


@dataclass
class Heading(Lines):
    size: float = 12.0
    font: str = "hebo"
    after: float = 3.0
    before: float = 3.0


@dataclass
class Cols:
    """Text in two columns, the left one written first; the block ends below the longer one."""

    left: Sequence[str | Lines]
    right: Sequence[str | Lines] | None = ()
    gap: float = 0

    def place(self, b: Builder, page: pymupdf.Page, y: float) -> float:
        y += self.gap
        if self.right is None:
            return self.write(page, Col(MARGIN, PAGE_W - MARGIN, y), self.left)
        left = self.write(page, Col(MARGIN, MARGIN + COL_W, y), self.left)
        return max(left, self.write(page, Col(MARGIN + COL_W + GAP, PAGE_W - MARGIN, y), self.right))

    @staticmethod
    def write(page: pymupdf.Page, col: Col, items: Sequence[str | Lines]) -> float:
        for item in items:
            it = Lines(item, after=5) if isinstance(item, str) else item
            col.y += it.before
            write_lines(page, col, it.text, it.size, font=it.font, after=it.after)
        return col.y


@dataclass
class Full(Cols):
    """Text in one column across the page."""

    right: Sequence[str | Lines] | None = None


@dataclass
class Figure:
    """A horizontally centred figure of width x height points with its caption above or below."""

    body: BarChart | LineChart | PieChart | Picture
    caption: str
    position: str  # "above" | "below"
    width: float
    height: float
    gap: float = 0

    def place(self, b: Builder, page: pymupdf.Page, y: float) -> float:
        x0 = (PAGE_W - self.width) / 2
        rect = pymupdf.Rect(x0, y + self.gap, x0 + self.width, y + (self.gap + self.height))
        if self.position == "above":
            top = caption_at(page, rect.x0, rect.x1, rect.y0, self.caption) + 4
            rect = pymupdf.Rect(rect.x0, top, rect.x1, top + rect.height)
        if self.body.raster:
            page.insert_image(rect, stream=self.body.png(self.width, self.height))
        else:
            self.body.draw(page, rect)
        end = rect.y1 + 6
        if self.position == "below":
            end = caption_at(page, rect.x0, rect.x1, rect.y1 + 6, self.caption)
        b.figures.append({
            "page": page.number + 1, "bbox": r4(rect), "type": "raster" if self.body.raster else "vector",
            "chart": self.body.chart, "caption": self.caption, "caption_position": self.position,
        })
        return end + 8


@dataclass
class Table:
    """A ruled table (a pipe table or rows) at MARGIN + x with its caption above or below; one without a caption is
    drawn, not recorded, and ends at its bottom rule. With ``overflow`` the rows that do not fit above the bottom
    margin go, under the header again, to the top of the next page, captioned ``overflow``; ``continued_rows`` names
    first cells that must land there (questions point at them)."""

    rows: str | Sequence[Sequence[str]]
    widths: Sequence[float]
    x: float
    caption: str | None = None
    position: str = "above"
    gap: float = 0
    row_h: float = 16.0
    size: float = 8.5
    overflow: str | None = None
    continued_rows: Sequence[str] = ()
    continued: bool = False

    def place(self, b: Builder, page: pymupdf.Page, y: float) -> float:
        x0, top, width = MARGIN + self.x, y + self.gap, sum(self.widths)
        rows = pipe_rows(self.rows) if isinstance(self.rows, str) else self.rows
        if self.caption is None:
            return draw_table(page, x0, top, self.widths, rows, self.row_h, self.size).y1
        if self.overflow is not None:
            cap_h = len(wrap(self.caption, width, 9.0, "heit")) * 9.0 * LEADING + 3
            split = int((BOTTOM - top - cap_h) // self.row_h)  # header + data rows that fit
            rows, rest = rows[:split], [rows[0], *rows[split:]]
            if any(row[0] in self.continued_rows for row in rows):
                raise ValueError(f"the questions expect {self.continued_rows} in the continued part of the table")
            b.pending.append(replace(self, rows=rest, caption=self.overflow, overflow=None, gap=0, continued=True))
        if self.position == "above":
            top = caption_at(page, x0, x0 + width, top, self.caption) + 3
        rect = draw_table(page, x0, top, self.widths, rows, self.row_h, self.size)
        end = rect.y1 + 6
        if self.position == "below":
            end = caption_at(page, x0, x0 + width, rect.y1 + 5, self.caption)
        b.tables.append({
            "page": page.number + 1, "bbox": r4(rect), "caption": self.caption, "caption_position": self.position,
            "header": list(rows[0]), "n_rows": len(rows), "n_cols": len(self.widths), "continued": self.continued,
        })
        return end + 8


Block = Cols | Figure | Table


@dataclass
class Scanned:
    """A page composed from blocks, rendered to greyscale pixels and inserted as a bare image: no text layer."""

    blocks: Sequence[Block]


@dataclass
class Doc:
    """One PDF. Page 1 opens with the logo (a letter on a coloured disc), the author, the title and the subtitle.
    ``questions`` is a pipe table: pages (comma-separated) | evidence | question | answer. ``checks`` maps a message
    to a fact that the prose states about the chart data, which must hold."""

    name: str
    title: str
    header: str
    author: str
    subtitle: str
    logo: tuple[str, tuple[int, int, int]]
    pages: Sequence[Sequence[Block] | Scanned]
    questions: str
    checks: Mapping[str, bool] = field(default_factory=dict)

    def check(self) -> None:
        for message, ok in self.checks.items():
            if not ok:
                raise ValueError(f"{self.name}: {message}")

    def question_rows(self) -> list[tuple[list[int], str, str, str]]:
        header, *rows = pipe_rows(self.questions)
        if header != ["pages", "evidence", "question", "answer"] or any(len(row) != 4 for row in rows):
            raise ValueError(f"{self.name}: questions must be rows of pages | evidence | question | answer")
        out = [([int(p) for p in pages.split(",")], evidence, q, a) for pages, evidence, q, a in rows]
        if not all(1 <= p <= len(self.pages) for pages, *_ in out for p in pages):
            raise ValueError(f"{self.name}: a question points outside the document")
        return out


def r4(rect: pymupdf.Rect) -> list[float]:
    return [round(v, 2) for v in (rect.x0, rect.y0, rect.x1, rect.y1)]


@dataclass
class Builder:
    spec: Doc
    doc: pymupdf.Document = field(default_factory=pymupdf.open)
    scanned: list[int] = field(default_factory=list)
    logos: list[dict[str, Any]] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    pending: list[Block] = field(default_factory=list)  # blocks carried over to the top of the next page

    def layout(self, page: pymupdf.Page, blocks: Sequence[Block], y: float) -> float:
        blocks, self.pending = [*self.pending, *blocks], []
        for block in blocks:
            y = block.place(self, page, y)
        return y

    def stamp(self, page: pymupdf.Page, pno: int) -> None:
        put(page, MARGIN, 40, self.spec.header, 8.5, color=GREY)
        page.draw_line((MARGIN, 46), (PAGE_W - MARGIN, 46), color=GREY, width=0.5)
        page.draw_line((MARGIN, 754), (PAGE_W - MARGIN, 754), color=GREY, width=0.5)
        put(page, MARGIN, 768, self.spec.author, 8, color=GREY)
        put(page, PAGE_W - MARGIN, 768, f"Page {pno} of {len(self.spec.pages)}", 8, color=GREY, anchor=1)

    def title_block(self, page: pymupdf.Page) -> float:
        logo_rect = pymupdf.Rect(MARGIN, 60, MARGIN + 24, 84)
        page.insert_image(logo_rect, stream=logo_png(*self.spec.logo))
        self.logos.append({"page": page.number + 1, "bbox": r4(logo_rect)})
        put(page, MARGIN + 32, 78, self.spec.author, 10, "hebo", GREY)
        col = Col(MARGIN, PAGE_W - MARGIN, 96)
        write_lines(page, col, self.spec.title, 20, font="hebo", after=2)
        write_lines(page, col, self.spec.subtitle, 10.5, font="heit", color=GREY, after=6)
        page.draw_line((MARGIN, col.y), (PAGE_W - MARGIN, col.y), color=BLACK, width=1)
        return col.y + 10

    def scanned_page(self, compose: Callable[[pymupdf.Page], object]) -> None:
        """Compose a page in a scratch document, render it to greyscale pixels and insert those as a full-page
        image on an otherwise empty page: a scan without a text layer."""
        pno = self.doc.page_count + 1
        scratch = pymupdf.open()
        sp = new_page(scratch)
        self.stamp(sp, pno)
        compose(sp)
        png = sp.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY).tobytes("png")
        scratch.close()
        page = new_page(self.doc)
        page.insert_image(page.rect, stream=png)
        self.scanned.append(pno)

    def build(self, out_dir: Path) -> dict[str, Any]:
        """Lay out every page, stamp headers and footers, save the PDF reproducibly; return its truth entry."""
        spec = self.spec
        for blocks in spec.pages:
            if isinstance(blocks, Scanned):
                self.scanned_page(lambda sp, blocks=blocks.blocks: self.layout(sp, blocks, TOP))
            else:
                page = new_page(self.doc)
                self.layout(page, blocks, self.title_block(page) if page.number == 0 else TOP)
        if self.pending:
            raise ValueError(f"{spec.name}: a table overflows the last page")
        for i, page in enumerate(self.doc):
            if i + 1 not in self.scanned:
                self.stamp(page, i + 1)
        self.doc.set_metadata({
            "title": spec.title, "author": spec.author, "subject": spec.header, "keywords": "mmrag sample",
            "creator": "mmrag sample_corpus/make_corpus.py", "producer": "PyMuPDF", "creationDate": PDF_DATE,
            "modDate": PDF_DATE, "trapped": "", "format": "", "encryption": None,
        })
        self.doc.subset_fonts()
        self.doc.save(out_dir / spec.name, **SAVE)
        self.doc.close()
        return {
            "title": spec.title, "pages": len(spec.pages), "scanned_pages": self.scanned, "header_text": spec.header,
            "footer_text": spec.author, "footer_pattern": FOOTER_PATTERN, "logos": self.logos,
            "figures": self.figures, "tables": self.tables,
        }
