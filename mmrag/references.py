"""References a question makes to where its answer is: "page 14", "slide 5", "Figure 3", "Table 2", "the cover".

`find_references` only reads the text; the query pipeline looks the references up in the element store (physical
page numbers and printed page labels alike, figure/table caption labels) and ranks what they name.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

# kind: "page" (a number or printed label), "figure" / "table" (a caption number), "first" / "last" (page)
KINDS = ("page", "figure", "table", "first", "last")

_PAGE = re.compile(r"\b(?:on\s+|at\s+)?(?:page|pg\.?|p\.)\s*#?\s*(\d{1,4}|[ivxlc]{1,7})\b(?![-/.]\d)", re.I)
_SLIDE = re.compile(r"\bslide\s*#?\s*(\d{1,4})\b", re.I)
_LABELLED = re.compile(r"\b(fig(?:ure)?s?\.?|tables?|exhibits?)\s*#?\s*(\d{1,3}(?:\.\d{1,2})?[a-z]?)\b", re.I)
_FIRST = re.compile(r"\b(?:cover|front|first|title)\s+(?:page|slide|sheet)\b|\bcover\b(?!age|ed|s\b)", re.I)
_LAST = re.compile(r"\b(?:last|final|back|closing)\s+(?:page|slide|sheet)\b|\bback\s+cover\b", re.I)


@dataclass(frozen=True)
class Reference:
    """One reference: its kind, the value it names ("14", "iv", "3") and the words that named it."""

    kind: str
    value: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def find_references(query: str) -> list[Reference]:
    """Every reference in the query, in the order they appear, without repeats."""
    found: list[tuple[int, Reference]] = []
    for m in _PAGE.finditer(query):
        found.append((m.start(), Reference("page", m.group(1).lower(), m.group(0).strip())))
    for m in _SLIDE.finditer(query):
        found.append((m.start(), Reference("page", m.group(1), m.group(0).strip())))
    for m in _LABELLED.finditer(query):
        word = m.group(1).lower()
        kind = "table" if word.startswith("table") else "figure"  # exhibits number like figures
        found.append((m.start(), Reference(kind, m.group(2).lower(), m.group(0).strip())))
    for m in _FIRST.finditer(query):
        found.append((m.start(), Reference("first", "1", m.group(0).strip())))
    for m in _LAST.finditer(query):
        found.append((m.start(), Reference("last", "-1", m.group(0).strip())))
    out: list[Reference] = []
    for _, ref in sorted(found, key=lambda f: f[0]):
        if all((r.kind, r.value) != (ref.kind, ref.value) for r in out):
            out.append(ref)
    return out
