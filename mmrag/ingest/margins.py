"""Running headers, footers and page numbers: lines to keep out of text chunks."""

from __future__ import annotations

import re

from mmrag.ingest.blocks import Block, Line

MARGIN = 0.1  # top and bottom fraction of the page where running text lives
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—(]?\s*(?:\d{1,4}|[ivxlcdm]{1,6})\s*[-–—)]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE
)


def _key(line: Line) -> tuple[str, int]:
    norm = re.sub(r"\d+", "#", line.text.strip().lower())
    return norm, round(line.bbox[1] / 6)


def _in_margin(line: Line, height: float) -> bool:
    return line.bbox[3] <= height * MARGIN or line.bbox[1] >= height * (1 - MARGIN)


def running_lines(pages: list[list[Block]], heights: list[float]) -> list[set[int]]:
    """For each page, the ids (id(line)) of lines that are running headers/footers or page numbers.

    A margin line is running when the same text (digits ignored) sits at the same height on at least two pages
    and on at least 40% of them; a bare number or "Page N of M" in a margin always is.
    """
    counts: dict[tuple[str, int], int] = {}
    for blocks, h in zip(pages, heights, strict=True):
        seen = {_key(ln) for b in blocks for ln in b.lines if _in_margin(ln, h)}
        for k in seen:
            counts[k] = counts.get(k, 0) + 1
    need = max(2, int(0.4 * len(pages) + 0.999))
    out: list[set[int]] = []
    for blocks, h in zip(pages, heights, strict=True):
        drop = set()
        for b in blocks:
            for ln in b.lines:
                if not _in_margin(ln, h):
                    continue
                if _PAGE_NUMBER.match(ln.text.strip()) or (len(pages) >= 2 and counts.get(_key(ln), 0) >= need):
                    drop.add(id(ln))
        out.append(drop)
    return out
