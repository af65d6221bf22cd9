"""Text chunks on layout boundaries: a chunk never crosses a heading or a column; long paragraphs split at
sentences near chunk_chars, tiny neighbours under one heading merge. Each chunk knows its section path."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mmrag.ingest.blocks import Block, Line, Rect4, join_lines, union
from mmrag.ingest.sections import SectionTracker

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")


@dataclass
class Chunk:
    text: str  # the body, without the section prefix ("" for a heading with no body of its own)
    bbox: Rect4
    section: str  # the heading in force
    path: tuple[str, ...] = ()  # the section path in force, top first ("Part II", "Item 7. ...", "Liquidity")


@dataclass
class PageSections:
    """The sections of one page: the path in force at its top and the path each of its headings opens."""

    start: tuple[str, ...]
    marks: list[tuple[Rect4, tuple[str, ...]]] = field(default_factory=list)

    def at(self, bbox: Rect4) -> tuple[str, ...]:
        """The path in force at a box of the page (a table, a figure): the last heading above it opened it."""
        path = self.start
        for box, opened in self.marks:
            if box[3] <= bbox[1] + 2:
                path = opened
        return path

    def paths(self) -> list[list[str]]:
        """Every path in force somewhere on the page, in reading order, without repeats."""
        out: list[list[str]] = []
        for path in [self.start, *(p for _, p in self.marks)]:
            if path and list(path) not in out:
                out.append(list(path))
        return out


def _split_paragraph(lines: list[Line], limit: int) -> list[tuple[str, Rect4]]:
    """Split one paragraph into pieces of at most about limit characters at sentence ends."""
    text = join_lines([ln.text for ln in lines])
    if len(text) <= limit:
        return [(text, union([ln.bbox for ln in lines]))]
    # character offset where each line starts in the joined text (approximate after de-hyphenation)
    starts, pos = [], 0
    for ln in lines:
        starts.append(pos)
        pos += len(ln.text.strip()) + 1
    cuts = [m.start() for m in _SENTENCE_END.finditer(text)]
    pieces, begin = [], 0
    while len(text) - begin > limit:
        inside = [c for c in cuts if begin + limit * 0.5 <= c <= begin + limit]
        if inside:
            end = inside[-1]
        else:  # no sentence end in range: fall back to the last space before the limit
            space = text.rfind(" ", begin + int(limit * 0.5), begin + limit)
            end = space if space > begin else begin + limit
        pieces.append((begin, end))
        begin = end
    pieces.append((begin, len(text)))
    out = []
    for b, e in pieces:
        piece = text[b:e].strip()
        if not piece:
            continue
        boxes = [ln.bbox for ln, s in zip(lines, starts, strict=True) if s < e and s + len(ln.text) > b]
        out.append((piece, union(boxes or [ln.bbox for ln in lines])))
    return out


def chunk_blocks(blocks: list[Block], sections: SectionTracker, chunk_chars: int) -> tuple[list[Chunk], PageSections]:
    """Chunks of a page's ordered blocks; `sections` (the document's, at the page start) follows its headings."""
    chunks: list[Chunk] = []
    buf: list[tuple[str, Rect4]] = []
    buf_col = -1
    heading_used = True
    last_heading_box: Rect4 = (0.0, 0.0, 0.0, 0.0)
    page = PageSections(sections.path)
    section, path = sections.section, sections.path

    def flush() -> None:
        nonlocal buf
        if buf:
            chunks.append(Chunk("\n".join(t for t, _ in buf), union([b for _, b in buf]), section, path))
            buf = []

    small, merge_below = chunk_chars * 0.25, chunk_chars * 0.4
    for blk in blocks:
        if blk.heading:
            flush()
            if not heading_used and section:  # a heading with no body of its own (a title) is a chunk by itself
                chunks.append(Chunk("", last_heading_box, section, path))
            sections.heading(blk.text, blk.size)
            section, path = sections.section, sections.path
            page.marks.append((blk.bbox, path))
            last_heading_box = blk.bbox
            heading_used = False
            continue
        heading_used = True
        for text, box in _split_paragraph(blk.lines, chunk_chars):
            size = sum(len(t) for t, _ in buf)
            fits = size + len(text) <= chunk_chars
            # a column break ends a chunk unless both sides are fragments (an unruled table's cells, a label
            # beside its figures): those join the chunk before them while it fits
            new_column = blk.column != buf_col and (size >= small or len(text) >= small)
            if buf and (new_column or not fits or (size >= merge_below and len(text) >= small)):
                flush()
            buf.append((text, box))
            buf_col = blk.column
    flush()
    if not heading_used and section:
        chunks.append(Chunk("", last_heading_box, section, path))
    return chunks, page
