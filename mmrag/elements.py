"""The data model: Element (the unit of everything), Hit, Citation and Answer."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mmrag.search_text import compact_table, split_run_together

Kind = Literal["text", "figure", "table", "page"]
KINDS: tuple[str, ...] = ("text", "figure", "table", "page")
BBox = tuple[float, float, float, float]
HEADERS = ("none", "section", "doc+section")  # what goes before an element's text in the text channel


def element_id(doc_sha256: str, page: int, kind: str, bbox: BBox, salt: str = "") -> str:
    """Stable id from document hash, page, kind and box (rounded to a point); `salt` tells apart what these alone
    do not (the parser passes the document name, so identical files under two names stay two documents)."""
    key = f"{doc_sha256}|{page}|{kind}|{','.join(str(round(v)) for v in bbox)}|{salt}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def point_id(element_id: str) -> int:
    """The element's id as a positive 60-bit integer (Qdrant point id, FAISS id)."""
    return int(element_id[:15], 16)


@dataclass
class Element:
    """A typed, located piece of a PDF page.

    text: chunk text, table Markdown, figure OCR text or page text; caption: the linked caption
    (figures, tables); image: key of the element's pixels in the store (figures, tables, pages).
    """

    id: str
    doc: str
    doc_sha256: str
    page: int
    kind: str
    bbox: BBox
    text: str = ""
    caption: str = ""
    image: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def point_id(self) -> int:
        return point_id(self.id)

    def searchable_text(self, header: str = "section") -> str:
        """What the text channel embeds: a contextual header, then the caption, then the element's own text
        (a table as compact rows, run-together words split: `mmrag.search_text`).

        header: "section" puts the element's section path first ("Part II > Item 7 > Liquidity"), "doc+section"
        the document's title before it, "none" nothing (see `chunk_header`). An element without text of its own
        gets no header.
        """
        body = compact_table(self.text) if self.kind == "table" else self.text
        own = "\n".join(p for p in (self.caption, body) if p)
        head = chunk_header(self, header) if own else ""
        return split_run_together(f"{head}\n{own}" if head else own)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bbox"] = list(self.bbox)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Element:
        d = dict(d)
        d["bbox"] = tuple(d["bbox"])
        return cls(**d)


def chunk_header(e: Element, header: str) -> str:
    """The contextual header of an element under a header mode ("none" | "section" | "doc+section"): the section
    path the parser recorded (a heading that is the element's whole text is not repeated) and the document title."""
    if header == "none":
        return ""
    if header not in HEADERS:
        raise ValueError(f"unknown chunk header {header!r}: use one of {', '.join(HEADERS)}")
    path = [str(t) for t in e.meta.get("path") or ()]
    if path and path[-1] == e.text.strip():
        path = path[:-1]
    lines = [" > ".join(path)] if path else []
    title = str(e.meta.get("title") or "")
    if header == "doc+section" and title:
        lines.insert(0, title)
    return "\n".join(lines)


@dataclass
class ChannelHit:
    """One element as ranked by one channel (rank is 1-based)."""

    element_id: str
    score: float
    rank: int
    channel: str


@dataclass
class Hit:
    """A fused result: the element, its fused score and its rank/score in each channel."""

    element: Element
    score: float
    channels: dict[str, dict[str, float]] = field(default_factory=dict)
    related: list[str] = field(default_factory=list)
    pixels_path: str | None = None
    context: list[Element] = field(default_factory=list)  # other ranked elements of the same page, best first

    def to_dict(self) -> dict[str, Any]:
        e = self.element
        return {
            "element_id": e.id,
            "doc": e.doc,
            "page": e.page,
            "kind": e.kind,
            "bbox": list(e.bbox),
            "score": self.score,
            "text": e.searchable_text(),
            "caption": e.caption,
            "channels": self.channels,
            "related": self.related,
            "pixels": self.pixels_path,
        }


@dataclass
class Citation:
    """Where an answer's claim comes from."""

    marker: str
    doc: str
    page: int
    element_id: str
    kind: str
    bbox: BBox

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bbox"] = list(self.bbox)
        return d


@dataclass
class Answer:
    """A generated (or extracted) answer with the generator that wrote it and its citations."""

    text: str
    generator: str
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    supported: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "generator": self.generator,
            "supported": self.supported,
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
        }
