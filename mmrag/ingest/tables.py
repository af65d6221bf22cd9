"""Tables: PyMuPDF's line-based finder, filtered, rendered as Markdown."""

from __future__ import annotations

from dataclasses import dataclass

import pymupdf

from mmrag.ingest.blocks import Rect4


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


def _cell_text(words: list[tuple], cell: tuple[float, float, float, float]) -> str:
    inside = [
        w for w in words
        if cell[0] <= (w[0] + w[2]) / 2 <= cell[2] and cell[1] <= (w[1] + w[3]) / 2 <= cell[3]
    ]
    inside.sort(key=lambda w: (w[5], w[6], w[7]))  # block, line, word number: reading order
    return _cell(" ".join(w[4] for w in inside))


def has_ruling(drawings: list[dict]) -> bool:
    """Whether the page has enough line art for a ruled table (skips find_tables on prose pages)."""
    n = 0
    for d in drawings:
        for item in d.get("items", ()):
            if item[0] in ("l", "re", "qu"):
                n += 1
                if n >= 4:
                    return True
    return False


def find_tables(page: pymupdf.Page, drawings: list[dict] | None = None, use_layout: bool = False) -> list[FoundTable]:
    """Ruled tables of the page with at least 2 columns, 2 rows and some text in their cells."""
    kwargs = {"use_layout": use_layout}
    if drawings is not None and not use_layout:
        kwargs["paths"] = drawings
    try:
        tabs = page.find_tables(**kwargs)
    except Exception:  # the finder fails on some degenerate line art; no tables then
        return []
    out = []
    words = page.get_text("words", flags=pymupdf.TEXT_PRESERVE_LIGATURES | pymupdf.TEXT_PRESERVE_WHITESPACE) \
        if tabs.tables else []
    for tab in tabs.tables:
        # cell text from the page's words: Table.extract() misorders glyphs of some fonts ("0.91" -> "091 .")
        rows = [[_cell_text(words, c) if c else "" for c in r.cells] for r in tab.rows]
        if not rows:
            continue
        bbox = pymupdf.Rect(tab.bbox)
        names = [_cell(c) for c in tab.header.names] if tab.header is not None else []
        # an "external" header (the line above the grid) counts only when it fills several columns: a lone
        # cell up there is the caption
        if tab.header is not None and tab.header.external and sum(1 for c in names if c) >= 2:
            header = names
            bbox |= pymupdf.Rect(tab.header.bbox)
        else:
            header, rows = rows[0], rows[1:]
        n_cols = len(header)
        cells = [c for r in [header, *rows] for c in r]
        filled = sum(1 for c in cells if c)
        if n_cols < 2 or len(rows) < 1 or filled < 0.3 * len(cells):
            continue
        out.append(FoundTable(tuple(bbox), header, rows))
    return out
