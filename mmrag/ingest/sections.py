"""A document's section tree, built while its pages are parsed: the PDF outline (bookmarks) where it has a usable
one, and the headings the parser detects, nested by what they say ("Part II" holds "Item 7", which holds "1.2")
and then by font size (a larger heading holds a smaller one).

`SectionTracker` walks a document's headings in reading order and says, at each point, which section path is in
force ("Part II > Item 7. Management's Discussion > Liquidity"); `document_title` names the document for a
chunk's contextual header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from mmrag.search_text import plain_words

MAX_DEPTH = 4  # a path keeps its top and its three deepest sections: deeper trees are mostly misread headings
SEPARATOR = " > "

_PART = r"(?:part|book|volume)\s+(?:[ivxlc]+|\d{1,2})"  # "PART II", "Book 3"
# Headings that say their own level, whatever their font: parts hold chapters, chapters hold items, and so on.
_RANKED = [
    (re.compile(rf"^(?:{_PART}|(?:part|book|volume)\s+(?:one|two|three|four|five))\b", re.I), 1.0),
    (re.compile(r"^chapter\s+(?:[ivxlc]+|\d{1,3})\b", re.I), 2.0),
    (re.compile(r"^(?:item|section|article)\s+\d{1,2}[a-z]?\b", re.I), 3.0),
    (re.compile(r"^appendix\b|^annex\b", re.I), 2.0),
    (re.compile(r"^note\s+\d{1,2}\b", re.I), 3.5),
]
# A part's heading set on one line with its first item's ("PART I Item 1. Business."): two sections, one in the other
_PART_THEN_ITEM = re.compile(rf"^({_PART}\b\.?)[\s.:—–-]+"
                             r"(?=(?:chapter|item|section|article)\s+\d)", re.I)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+[A-Za-z]")
# Outline entries that name no section: slide numbers PowerPoint writes, bare file or layer names ("steo_text").
_JUNK_ENTRY = re.compile(r"^(?:slide|page)\s*(?:number\s*)?\d+$|^[\w.-]*_[\w.-]*$|^\W*$|"
                         r"^(?=\S*\d)(?=\S*[a-z])\S+$", re.I)  # and one token of digits and letters ("3atab")
_JUNK_TITLE = re.compile(r"^(?:untitled|powerpoint presentation|presentation|document\d*|slide \d+)$|"
                         r"^microsoft (?:word|powerpoint)\b|\.(?:docx?|pptx?|pdf|indd|qxd)$|^[\d\W_]+$", re.I)


@dataclass(frozen=True)
class OutlineEntry:
    """One bookmark of the PDF outline: its level (1 the top), title and first page (1-based)."""

    level: int
    title: str
    page: int


def read_outline(pdf: Any) -> list[OutlineEntry]:
    """The PDF's outline as section entries, or [] when it has none worth using (fewer than two real entries:
    slide-number bookmarks and file-name-like labels are not sections). A lone top entry that holds all the others
    (the document's own title) is left out, its children moving up a level."""
    try:
        toc = pdf.get_toc(simple=True)
    except Exception:  # a malformed outline tree: the headings still give the structure
        return []
    entries = []
    for level, title, page in toc:
        title = " ".join(str(title).split())
        if page >= 1 and title and not _JUNK_ENTRY.match(title) and any(c.isalpha() for c in title):
            entries.append(OutlineEntry(int(level), title, int(page)))
    while entries and sum(e.level == min(x.level for x in entries) for e in entries) == 1 and len(entries) > 2:
        top = min(e.level for e in entries)
        entries = [e for e in entries if e.level != top]
    return entries if len(entries) >= 2 else []


def document_title(pdf: Any, doc: str) -> str:
    """The document's title: its metadata title when that reads like one (not an accession number, a file name or
    "PowerPoint Presentation"), otherwise its file name in words ("BOEING_2022_10K.pdf" -> "BOEING 2022 10K")."""
    try:
        meta = " ".join(str((pdf.metadata or {}).get("title") or "").split())
    except Exception:
        meta = ""
    words = [w for w in re.split(r"\s+", meta) if any(c.isalpha() for c in w)]
    if 2 <= len(words) and len(meta) <= 150 and not _JUNK_TITLE.search(meta):
        return meta
    return " ".join(re.split(r"[_\s]+", PurePath(doc).stem)).strip()


def heading_rank(title: str, size: float) -> float:
    """How high a heading sits (lower is higher): what it says first ("Part II", "Item 7", "3.2"), else its size
    (every size-ranked heading sits below the self-ranked ones)."""
    for pattern, rank in _RANKED:
        if pattern.match(title):
            return rank
    numbered = _NUMBERED.match(title)
    if numbered:
        return 4.0 + numbered.group(1).count(".")
    return 10.0 + 1.0 / max(size, 1.0)  # larger type, smaller rank


@dataclass
class SectionTracker:
    """The section path in force while a document's pages are read in order.

    Outline entries open at their page (at their heading, when the page has one with that title); detected
    headings nest below the outline entry in force, and among themselves by `heading_rank`.
    """

    outline: list[OutlineEntry] = field(default_factory=list)
    _outline: list[tuple[int, str]] = field(default_factory=list)  # (level, title) in force
    _headings: list[tuple[float, str]] = field(default_factory=list)  # (rank, title) in force
    _pending: list[OutlineEntry] = field(default_factory=list)  # this page's entries that wait for their heading
    section: str = ""  # the last heading (or outline entry) opened: the heading in force

    @property
    def path(self) -> tuple[str, ...]:
        titles = [t for _, t in self._outline] + [t for _, t in self._headings]
        if len(titles) > MAX_DEPTH:
            titles = titles[:1] + titles[-(MAX_DEPTH - 1):]
        return tuple(titles)

    def start_page(self, page: int, headings: list[str]) -> None:
        """Open the outline entries of a page (1-based): those whose title is one of the page's headings wait for
        it (`heading` opens them), the others open at the top of the page."""
        self._pending = []
        titles = {plain_words(h) for h in headings}
        for entry in (e for e in self.outline if e.page == page):
            if plain_words(entry.title) in titles:
                self._pending.append(entry)
            else:
                self._open_entry(entry)

    def heading(self, title: str, size: float) -> None:
        """A heading met in reading order: an outline entry of this page, or a section of its own."""
        title = " ".join(title.split())
        key = plain_words(title)
        for i, entry in enumerate(self._pending):
            if plain_words(entry.title) == key:
                for earlier in self._pending[: i + 1]:
                    self._open_entry(earlier)
                del self._pending[: i + 1]
                self.section = title
                return
        both = _PART_THEN_ITEM.match(title)
        if both:
            self.heading(both.group(1), size)
            self.heading(title[both.end():], size)
            return
        rank = heading_rank(title, size)
        while self._headings and self._headings[-1][0] >= rank:
            self._headings.pop()
        self._headings.append((rank, title))
        self.section = title

    def _open_entry(self, entry: OutlineEntry) -> None:
        while self._outline and self._outline[-1][0] >= entry.level:
            self._outline.pop()
        self._outline.append((entry.level, entry.title))
        self._headings = []
        self.section = entry.title
