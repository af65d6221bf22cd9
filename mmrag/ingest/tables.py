"""Tables: PyMuPDF's line-based finder, filtered, rendered as Markdown."""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pymupdf
import pymupdf.table

from mmrag.ingest.blocks import Rect4
from mmrag.ingest.clock import timed


@dataclass
class FoundTable:
    bbox: Rect4
    header: list[str]
    rows: list[list[str]]

    @property
    def n_cols(self) -> int:
        return len(self.header)

    @property
    def n_rows(self) -> int:
        """All rows, the header row included."""
        return len(self.rows) + 1

    def markdown(self) -> str:
        def row(cells: list[str]) -> str:
            return "| " + " | ".join(cells) + " |"

        lines = [row(self.header), "|" + "|".join("---" for _ in self.header) + "|"]
        lines += [row(r) for r in self.rows]
        return "\n".join(lines)


def _cell(value: object) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text.replace("|", "\\|")


def _cell_text(words: _Words, cell: tuple[float, float, float, float]) -> str:
    """The words whose centre lies in the cell, in reading order (block, line, word number)."""
    cx, cy = words.centres
    inside = np.flatnonzero((cell[0] <= cx) & (cx <= cell[2]) & (cell[1] <= cy) & (cy <= cell[3]))
    return _cell(" ".join(words.text[i] for i in inside))


class _Words:
    """A page's words (PyMuPDF's `get_text("words")` tuples), sorted in reading order, with their centres."""

    def __init__(self, words: list[tuple]) -> None:
        words = sorted(words, key=lambda w: (w[5], w[6], w[7]))  # block, line, word number
        self.text = [w[4] for w in words]
        boxes = np.array([w[:4] for w in words], dtype=np.float64).reshape(-1, 4)
        self.boxes = boxes
        self.centres = ((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2)


def _edges(drawings: list[dict], min_length: float = 3.0) -> tuple[set[int], set[int]]:
    """x of the vertical and y of the horizontal edges in the line art, snapped to 3 pt (as the finder snaps)."""
    xs: set[int] = set()
    ys: set[int] = set()
    for d in drawings:
        for item in d.get("items", ()):
            kind = item[0]
            if kind == "l":
                (x0, y0), (x1, y1) = (item[1].x, item[1].y), (item[2].x, item[2].y)
                if abs(x0 - x1) <= 1 and abs(y1 - y0) >= min_length:
                    xs.add(round(x0 / 3))
                elif abs(y0 - y1) <= 1 and abs(x1 - x0) >= min_length:
                    ys.add(round(y0 / 3))
            elif kind in ("re", "qu"):
                r = item[1].rect if kind == "qu" else item[1]
                if r.height >= min_length:
                    xs.update((round(r.x0 / 3), round(r.x1 / 3)))
                if r.width >= min_length:
                    ys.update((round(r.y0 / 3), round(r.y1 / 3)))
    return xs, ys


def has_ruling(drawings: list[dict]) -> bool:
    """Whether the line art could make a ruled grid of at least 2 columns and 2 rows.

    PyMuPDF's line finder builds cells only from vertical and horizontal edges, so a page without three distinct
    vertical and three distinct horizontal edges has no table it would keep (we need 2 columns, a header and a
    row). The check costs microseconds; the finder costs ~0.15 s a page (its per-glyph Python loop), which was
    most of the parse time of financial filings, whose tables are mostly ruled with horizontal lines only.
    """
    xs, ys = _edges(drawings)
    return len(xs) >= 3 and len(ys) >= 3


@timed("tables")
def find_tables(
    page: pymupdf.Page, drawings: list[dict] | None = None, use_layout: bool = False,
    display_list: pymupdf.DisplayList | None = None,
) -> list[FoundTable]:
    """Ruled tables of the page with at least 2 columns, 2 rows and some text in their cells.

    display_list: the page's, when the caller has made one (the header finder then renders from it).
    """
    kwargs: dict = {"use_layout": use_layout}
    if drawings is not None and not use_layout:
        kwargs["paths"] = drawings
    try:
        with _fast_chars():
            tabs = page.find_tables(**kwargs)
    except Exception:  # the finder fails on some degenerate line art; no tables then
        return []
    if tabs is None:  # PyMuPDF reports some failures by returning None
        return []
    out = []
    words = _Words(page.get_text("words", flags=pymupdf.TEXT_PRESERVE_LIGATURES | pymupdf.TEXT_PRESERVE_WHITESPACE)
                   if tabs.tables else [])
    with _header_shortcuts(page, display_list):
        for tab in tabs.tables:
            # cell text from the page's words: Table.extract() misorders glyphs of some fonts ("0.91" -> "091 .")
            rows = [[_cell_text(words, c) if c else "" for c in r.cells] for r in tab.rows]
            if not rows:
                continue
            bbox = pymupdf.Rect(tab.bbox)
            # The header finder extracts the whole table (a Python loop over every glyph) only to name the top
            # row, whose names we never use: it gets the rows read above instead (a fifth of the finder's time)
            tab.extract = lambda rows=rows: rows
            try:
                found = tab.header  # PyMuPDF renders the top row to tell a header by its colour; MuPDF can refuse
            except Exception:  # that (huge pages: "Overly large image", "Invalid bandwriter header ..."): first row
                found = None
            names = [_cell(c) for c in found.names] if found is not None else []
            # an "external" header (the line above the grid) counts only when it fills several columns: a lone
            # cell up there is the caption
            external = found is not None and found.external and sum(1 for c in names if c) >= 2
            if external:
                rows = [names, *rows]
                bbox |= pymupdf.Rect(found.bbox)
            grid = compact_grid(rows)
            if len(grid) < 2 or len(grid[0]) < 2 or not (_dense(rows) or _numeric_columns(grid) >= 2):
                continue
            above = None if external else _header_above(words, tab, rows)  # looked for once a table is kept
            if above is not None:
                grid = compact_grid([above[0], *rows])
                bbox |= above[1]
            out.append(FoundTable(tuple(bbox), grid[0], grid[1:]))
    return out


@contextmanager
def _header_shortcuts(page: pymupdf.Page, display_list: pymupdf.DisplayList | None) -> Iterator[None]:
    """While PyMuPDF's header finder runs on the page's tables: its `get_textbox` (once per header column) answered
    from one extraction of the page, and its renders (two per table) made from the page's display list.

    Both give what PyMuPDF's own calls give; those re-read the page for every call: `get_textbox` walks every
    glyph of the page in Python (about 40 ms on a page of a 10-K, a quarter of the tables stage on the finance dev
    set), and `get_pixmap` interprets the page's content again.
    """
    page.get_textbox = _Textboxes(page)
    if display_list is not None:
        page.get_pixmap = functools.partial(_pixmap_from_list, page, display_list)
    try:
        yield
    finally:
        del page.get_textbox
        if display_list is not None:
            del page.get_pixmap


def _pixmap_from_list(
    page: pymupdf.Page, display_list: pymupdf.DisplayList, *, clip: object = None, **kwargs: object,
) -> pymupdf.Pixmap:
    """`Page.get_pixmap(clip=...)` as PyMuPDF makes it (RGB, no alpha, at 72 dpi), from an existing display list."""
    if kwargs:  # a render we do not reproduce: the page's own
        return pymupdf.Page.get_pixmap(page, clip=clip, **kwargs)
    return display_list.get_pixmap(matrix=pymupdf.Identity, colorspace=pymupdf.csRGB, alpha=False, clip=clip)


class _Textboxes:
    """`Page.get_textbox(rect)` for many rectangles of one page, from one extraction of its glyphs.

    The same text as PyMuPDF's: the glyphs (of a TextPage made as `get_textbox` makes its own, flags 0) whose box
    overlaps the rectangle in single precision, in the page's order, a line break between lines.
    """

    def __init__(self, page: pymupdf.Page) -> None:
        self.page = page
        self._boxes: np.ndarray | None = None
        self._lines: np.ndarray = np.zeros(0, dtype=np.int64)
        self._chars: list[str] = []

    def __call__(self, rect: object, textpage: pymupdf.TextPage | None = None) -> str:
        if textpage is not None:
            return pymupdf.Page.get_textbox(self.page, rect, textpage=textpage)
        if self._boxes is None:
            self._read()
        assert self._boxes is not None
        a = np.array(tuple(pymupdf.Rect(rect)), dtype=np.float32)
        b = self._boxes
        hit = np.flatnonzero(~((a[0] >= b[:, 2]) | (a[1] >= b[:, 3]) | (a[2] <= b[:, 0]) | (a[3] <= b[:, 1])))
        lines: list[list[str]] = []
        last = -1
        for i in hit.tolist():
            if self._lines[i] != last:
                last = self._lines[i]
                lines.append([])
            lines[-1].append(self._chars[i])
        return "\n".join("".join(chars) for chars in lines)

    def _read(self) -> None:
        boxes: list[tuple[float, float, float, float]] = []
        lines: list[int] = []
        n = 0
        for block in self.page.get_textpage().extractRAWDICT()["blocks"]:
            for line in block.get("lines", ()):
                n += 1
                for span in line["spans"]:
                    for char in span["chars"]:
                        boxes.append(char["bbox"])
                        lines.append(n)
                        c = char["c"]
                        self._chars.append("\ufffd" if "\ud800" <= c <= "\udfff" else c)  # as PyMuPDF escapes them
        self._boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)
        self._lines = np.array(lines, dtype=np.int64)


MIN_FILLED = 0.3  # a grid with fewer cells holding text is line art (a frame, a form, a chart's gridlines)
_AMOUNT = re.compile(r"^[-−–(]?[$€£¥]?\s?\d[\d,.]*\s?%?\)?%?$|^[-−–—]$")  # 1,240 · (7.1)% · $23,706 · - (nil)


# a column named by its year or years: 2022 · FY2023 · 2028-2032
_PERIOD = re.compile(r"^(?:FY\s?)?(?:19|20)\d\d(?:\s?[-–]\s?(?:19|20)?\d\d)?$")


def _header_above(words: _Words, tab: pymupdf.table.Table, rows: list[list[str]]
                  ) -> tuple[list[str], pymupdf.Rect] | None:
    """The column headers set on the line right above a table whose top row already holds amounts (or only a label
    above rows of them), and that line's box; None when there is no such line.

    Financial statements rule their body and print "Years ended December 31, 2022 2021 2020" just over it, where
    the finder's external header does not look: without it a statement's amounts came out with no year. The line's
    words go to the columns their centres lie in; it counts as a header when two or more of the columns of amounts
    get a few words (a caption over the table spans the columns with a sentence instead).
    """
    top = rows[0]
    if not top[0] or _AMOUNT.match(top[0]) or any(c and not _AMOUNT.match(c) for c in top[1:]):
        return None  # the top row names its columns itself, or is no row of a label and its amounts
    amounts = [j for j in range(1, len(top)) if any(j < len(r) and _AMOUNT.match(r[j]) for r in rows[:3])]
    if len(amounts) < 2 or not len(words.text):
        return None
    spans = _column_spans(tab, len(top))
    x0, y0, x1, _ = tab.bbox
    b = words.boxes
    cx = words.centres[0]
    near = np.flatnonzero((b[:, 3] <= y0 + 1) & (b[:, 3] >= y0 - 14) & (cx >= x0 - 1) & (cx <= x1 + 1))
    if not len(near):
        return None
    bottom = b[near, 3].max()
    line = near[np.abs(b[near, 3] - bottom) <= 2]
    height = float(np.median(b[line, 3] - b[line, 1]))
    if y0 - bottom > 0.6 * height:  # a gap: the line belongs to what is above the table
        return None
    cells: list[list[str]] = [[] for _ in top]
    for i in line[np.argsort(b[line, 0])]:
        j = next((j for j, (a, z) in enumerate(spans) if a <= cx[i] <= z), None)
        if j is None:
            return None  # a word between the columns: prose, not column names
        cells[j].append(words.text[i])
    named = [j for j in amounts if cells[j]]
    if len(named) < 2 or any(len(cells[j]) > 3 for j in range(1, len(top))):
        return None
    if any(_AMOUNT.match(w) and not _PERIOD.match(w) for j in range(1, len(top)) for w in cells[j]):
        return None  # amounts up there: a row of the table above, not names
    box = pymupdf.Rect(b[line, 0].min(), b[line, 1].min(), b[line, 2].max(), b[line, 3].max())
    return [_cell(" ".join(c)) for c in cells], box


def _column_spans(tab: pymupdf.table.Table, width: int) -> list[tuple[float, float]]:
    """Each column's x extent over the rows' cells (a merged cell counts for the column it starts in)."""
    spans = [(np.inf, -np.inf)] * width
    for r in tab.rows:
        for j, c in enumerate(r.cells[:width]):
            if c:
                spans[j] = (min(spans[j][0], c[0]), max(spans[j][1], c[2]))
    return spans


def _dense(rows: list[list[str]]) -> bool:
    cells = [c for r in rows for c in r]
    return sum(1 for c in cells if c) >= MIN_FILLED * len(cells)


def _numeric_columns(grid: list[list[str]]) -> int:
    """Columns of amounts: at least 3 body rows, in most of which the column holds one number (or a dash).

    What a sparse grid needs to count as a table: tables of figures ruled only by shading or by rules under
    column groups come out of the finder with most columns empty, while slides, frames and charts that the
    finder also sees as grids have prose, labels or doubled ticks in their cells instead.
    """
    body = grid[1:]
    if len(body) < 3 or len(grid[0]) < 3:
        return 0
    return sum(1 for j in range(len(grid[0]))
               if sum(1 for r in body if _AMOUNT.match(r[j])) >= 0.6 * len(body))


def compact_grid(rows: list[list[str]]) -> list[list[str]]:
    """The grid without its empty rows and columns.

    Shaded or partly ruled tables (alternating row fills, rules under column groups, the amounts' "$" drawn apart)
    give the finder many more column edges than the table has columns: a 9-column table of store counts came out
    as 31 columns, three quarters of them empty in every row.
    """
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    keep = [j for j in range(width) if any(r[j] for r in rows)]
    return [[r[j] for j in keep] for r in rows]


# PyMuPDF's `pymupdf.table.make_chars` (the finder's character list: a dict per glyph) and `chars_in_rect` as measured
# and matched here; another version of them keeps its own code.
_MAKE_CHARS_SHA = "4631a69307e0bb81"
_CHARS_IN_RECT_SHA = "ea960d781eb3462a"


def _source_is(function: object, sha: str) -> bool:
    try:
        source = inspect.getsource(function)  # type: ignore[arg-type]
    except (AttributeError, OSError, TypeError):
        return False
    return hashlib.sha256(source.encode()).hexdigest()[:16] == sha


@functools.cache
def _make_chars_matches() -> bool:
    return hasattr(pymupdf.table, "CHARS") and _source_is(getattr(pymupdf.table, "make_chars", None), _MAKE_CHARS_SHA)


@functools.cache
def _chars_in_rect_matches() -> bool:
    return _source_is(getattr(pymupdf.table, "chars_in_rect", None), _CHARS_IN_RECT_SHA)


@contextmanager
def _fast_chars() -> Iterator[None]:
    """For one `find_tables` call: the finder's character list built by `make_chars_fast` and its text probe
    `chars_in_rect` answered by `chars_in_rect_fast` (same results, faster)."""
    T = pymupdf.table
    swaps = {name: fast for name, fast, ok in (("make_chars", make_chars_fast, _make_chars_matches),
                                               ("chars_in_rect", chars_in_rect_fast, _chars_in_rect_matches))
             if getattr(T, name, None) is not fast and ok()}
    originals = {name: getattr(T, name) for name in swaps}
    for name, fast in swaps.items():
        setattr(T, name, fast)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(T, name, original)
        _BOXES.clear()


_BOXES: list[tuple[list, int, tuple[np.ndarray, ...]]] = []  # the character list last probed, its length, its boxes


def chars_in_rect_fast(chars: object, rect: object) -> bool:
    """`pymupdf.table.chars_in_rect`: whether some character lies wholly inside rect (x0, y0, x1, y1 in the
    characters' keys), tested over numpy arrays of the page's character boxes, made once per character list.

    The finder probes every group of joined line art for text this way; PyMuPDF's own loop reads four dict keys
    of every glyph of the page per probe (a few percent of the tables stage on 10-Ks).
    """
    listed = chars._list() if hasattr(chars, "_list") else chars  # type: ignore[attr-defined]
    entry = _BOXES[0] if _BOXES else None  # read once: the boxes used are those of this list
    if entry is None or entry[0] is not listed or entry[1] != len(listed):
        boxes = np.array([(c["x0"], c["y0"], c["x1"], c["y1"]) for c in listed], dtype=np.float64).reshape(-1, 4)
        entry = (listed, len(listed), tuple(boxes.T))
        _BOXES[:] = [entry]
    x0, y0, x1, y1 = entry[2]
    r = rect  # a Rect, whose indexing is a Python call: read once
    r0, r1, r2, r3 = r[0], r[1], r[2], r[3]  # type: ignore[index]
    return bool(np.any((r0 <= x0) & (x1 <= r2) & (r1 <= y0) & (r3 >= y1)))


def make_chars_fast(page: pymupdf.Page, clip: object = None) -> object:
    """`pymupdf.table.make_chars` with the same output, about twice as fast: the per-glyph transforms into PDF
    coordinates as numpy float32 arithmetic over the page (what MuPDF's fz_transform_rect/point compute in C
    floats) instead of a Rect, a Point and two MuPDF calls per glyph; the finder spent over half its time there.

    Only for the usual page matrix (1, 0, 0, -1, e, f); other pages take PyMuPDF's own code. Fills
    `pymupdf.table.CHARS` and returns the TextPage, as the original does.
    """
    T = pymupdf.table
    ctm = page.transformation_matrix
    if (ctm.a, ctm.b, ctm.c, ctm.d) != (1.0, 0.0, 0.0, -1.0):
        return _ORIGINAL_MAKE_CHARS(page, clip)
    chars = T.CHARS._list()
    page_number = page.number + 1
    doctop_base = page.rect.height * page.number
    textpage = page.get_textpage(clip=clip, flags=T.FLAGS)
    glyphs: list[tuple[dict, tuple, tuple[float, float], bool]] = []  # char, its span's font data, direction, upright
    for block in page.get_text("rawdict", textpage=textpage)["blocks"]:
        for line in block["lines"]:
            ldir = (round(line["dir"][0], 4), round(line["dir"][1], 4))
            upright = ldir[1] == 0
            for span in sorted(line["spans"], key=lambda s: s["bbox"][0]):
                font = (span["font"], span["size"],
                        bool(span["flags"] & pymupdf.TEXT_FONT_BOLD or span["char_flags"] & 8),
                        pymupdf.sRGB_to_pdf(span["color"]))
                glyphs.extend((c, font, ldir, upright) for c in sorted(span["chars"], key=lambda c: c["bbox"][0]))
    if not glyphs:
        return textpage
    e, f = np.float32(ctm.e), np.float32(ctm.f)
    boxes = np.array([g[0]["bbox"] for g in glyphs], dtype=np.float32)
    origins = np.array([g[0]["origin"] for g in glyphs], dtype=np.float32)
    pdf_y0, pdf_y1 = (f - boxes[:, 3]).tolist(), (f - boxes[:, 1]).tolist()  # flipped: y0 from the bottom edge
    origin_x, origin_y = (origins[:, 0] + e).tolist(), (f - origins[:, 1]).tolist()
    for (char, (fontname, fontsize, bold, color), ldir, upright), ox, oy, py0, py1 in zip(
            glyphs, origin_x, origin_y, pdf_y0, pdf_y1):
        x0, y0, x1, y1 = char["bbox"]  # floats already
        chars.append({
            "adv": x1 - x0 if upright else y1 - y0, "bottom": y1, "doctop": y0 + doctop_base, "fontname": fontname,
            "height": y1 - y0, "matrix": (ldir[0], -ldir[1], ldir[1], ldir[0], ox, oy),
            "ncs": "DeviceRGB", "non_stroking_color": color, "non_stroking_pattern": None, "object_type": "char",
            "page_number": page_number, "size": fontsize if upright else y1 - y0, "stroking_color": color,
            "stroking_pattern": None, "bold": bold, "text": char["c"], "top": y0, "upright": upright,
            "width": x1 - x0, "x0": x0, "x1": x1, "y0": py0, "y1": py1,
        })
    return textpage


_ORIGINAL_MAKE_CHARS = pymupdf.table.make_chars
