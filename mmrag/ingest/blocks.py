"""Text lines and blocks of a page, from PyMuPDF's text dict (or from OCR lines), with font sizes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pymupdf

Rect4 = tuple[float, float, float, float]

_NAMED_PART = re.compile(r"^(?:part|item|chapter|section|article)\s+(?:[ivxlc]+|\d{1,2}[a-z]?)\b", re.I)
# A heading that names its own rank may end with a full stop, as filings set theirs ("Item 2. Properties.",
# "Item 1A. Risk Factors.", "Note 12. Debt."); any other short bold line that does is a sentence.
_RANKED_HEADING = re.compile(rf"{_NAMED_PART.pattern}|^note\s+\d{{1,2}}\b", re.I)
TEXT_FLAGS = pymupdf.TEXT_PRESERVE_LIGATURES | pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP


@dataclass
class Line:
    text: str
    bbox: Rect4
    size: float
    bold: bool
    block: int = 0

    @property
    def center(self) -> tuple[float, float]:
        return (self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2


@dataclass
class Block:
    lines: list[Line] = field(default_factory=list)
    heading: bool = False
    column: int = 0  # 0 spanning / single column, 1 left, 2 right

    @property
    def bbox(self) -> Rect4:
        return union([ln.bbox for ln in self.lines])

    @property
    def size(self) -> float:
        return max(ln.size for ln in self.lines)

    @property
    def text(self) -> str:
        return join_lines([ln.text for ln in self.lines])


def union(boxes: list[Rect4]) -> Rect4:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def join_lines(lines: list[str]) -> str:
    """Join a paragraph's lines with spaces, undoing end-of-line hyphenation before a lowercase letter."""
    out = ""
    for t in lines:
        t = t.strip()
        if not t:
            continue
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and t[:1].islower():
            out = out[:-1] + t
        else:
            out = f"{out} {t}" if out else t
    return out


def extract_blocks(text_dict: dict) -> list[Block]:
    """Blocks of lines from page.get_text("dict"); a block is split where the font size jumps (heading + body)."""
    blocks: list[Block] = []
    for b in text_dict.get("blocks", []):
        if b.get("type", 0) != 0:
            continue
        current: Block | None = None
        for ln in b.get("lines", []):
            spans = [s for s in ln.get("spans", []) if s.get("text", "").strip()]
            if not spans:
                continue
            text = "".join(s["text"] for s in ln["spans"]).strip()
            nchars = sum(len(s["text"].strip()) for s in spans)
            size = sum(s["size"] * len(s["text"].strip()) for s in spans) / max(nchars, 1)
            bold = all((s["flags"] & 16) or "bold" in s.get("font", "").lower() for s in spans)
            dx, dy = ln.get("dir", (1, 0))
            if abs(dy) > 0.5:  # vertical text (axis titles, margin notes) stays out of the prose flow
                bold = False
            line = Line(text, tuple(ln["bbox"]), round(size, 1), bool(bold))
            if current is None or abs(current.lines[-1].size - line.size) > 1.0 or current.lines[-1].bold != line.bold:
                current = Block()
                blocks.append(current)
            current.lines.append(line)
    number_lines(blocks)
    return blocks


def number_lines(blocks: list[Block]) -> None:
    """Set each line's `block` to the index of its block in the list (what `figures` looks blocks up by)."""
    for i, blk in enumerate(blocks):
        for ln in blk.lines:
            ln.block = i


def body_font_size(pages: list[list[Block]]) -> float:
    """The document's body text size: the size carrying the most characters."""
    weight: dict[float, int] = {}
    for blocks in pages:
        for blk in blocks:
            for ln in blk.lines:
                weight[ln.size] = weight.get(ln.size, 0) + len(ln.text)
    return max(weight, key=weight.__getitem__) if weight else 10.0


_FOLIO = re.compile(r"(?:page|slide|p\.?)\s*\d{1,4}", re.I)


def mark_headings(blocks: list[Block], body_size: float) -> None:
    """Flag short blocks set larger than the body text, or short bold lines, as headings; a heading wrapped over
    two blocks becomes one block (the list changes in place, lines' block numbers with it)."""
    for blk in blocks:
        text = blk.text
        if len(blk.lines) > 3 or len(text) > 150 or len(text) < 2 or not any(c.isalpha() for c in text):
            continue
        if _FOLIO.fullmatch(text.strip()):  # "PAGE 10" in a contents list or a page's corner names no section
            continue
        larger = blk.size >= body_size * 1.15
        # "Item 7. Management's Discussion and Analysis of ..." runs long but says it is a heading
        longest = 150 if _NAMED_PART.match(text) else 90
        bold = all(ln.bold for ln in blk.lines) and blk.size >= body_size - 0.5 and len(text) < longest
        ending = (",", ";") if _RANKED_HEADING.match(text) else (".", ",", ";")
        blk.heading = (larger or bold) and not text.rstrip().endswith(ending)
    _join_wrapped_headings(blocks)


# A heading never ends on a word that needs another after it: a title that does runs on in the next block
# ("ITEM 7. MANAGEMENT'S DISCUSSION ... CONDITION AND" + "RESULTS OF OPERATIONS"), and a clause that does is body
# text set larger or bolder than the body ("... multiplied by the Employee's Average Compensation, and").
_RUNS_ON = re.compile(r"(?:\b(?:and|or|nor|of|the|for|to|in|on|with|by|from)|&)\s*$", re.I)


def _join_wrapped_headings(blocks: list[Block]) -> None:
    """A heading that runs on takes the heading block right under it in the same type (its wrapped rest); without
    one it is no heading. Lines' block numbers follow the blocks that remain."""
    i = 0
    joined = False
    while i < len(blocks):
        blk = blocks[i]
        if blk.heading and _RUNS_ON.search(blk.text):
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            if nxt is not None and _continues(blk, nxt):
                blk.lines += nxt.lines
                del blocks[i + 1]
                joined = True
                continue  # the joined heading may run on again
            blk.heading = False
        i += 1
    if joined:
        number_lines(blocks)


def _continues(blk: Block, nxt: Block) -> bool:
    """Whether nxt is the wrapped rest of heading blk: a heading in the same type, starting on the next line."""
    if not nxt.heading or len(blk.lines) + len(nxt.lines) > 4 or len(blk.text) + len(nxt.text) > 200:
        return False
    last, first = blk.lines[-1], nxt.lines[0]
    height = last.bbox[3] - last.bbox[1]
    return (abs(last.size - first.size) <= 0.5 and last.bold == first.bold
            and 0 <= first.bbox[1] - last.bbox[1] <= 2.0 * max(height, last.size))
