"""ParsedDocument: what parsing one PDF (or a streamed fragment of its pages) yields, and the pixel-store key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from mmrag.elements import Element

PutPixels = Callable[[bytes, str], str]  # (image bytes, extension) -> the element store's key


@dataclass
class ParsedDocument:
    """One document's elements, or a fragment of them (consecutive pages) when streamed by `stream_pdf`.

    pixels: image bytes by store key, when no put_pixels callback stored them already.
    """

    doc: str
    sha256: str
    pages: int
    elements: list[Element] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    pixels: dict[str, bytes] = field(default_factory=dict)

    def extend(self, part: ParsedDocument) -> None:
        """Append a later fragment of the same document."""
        self.elements.extend(part.elements)
        self.warnings.extend(part.warnings)
        self.ocr_pages.extend(part.ocr_pages)
        self.pixels.update(part.pixels)


def pixel_key(data: bytes, ext: str) -> str:
    """The element store's key for image bytes (content hash plus extension)."""
    return f"{hashlib.sha256(data).hexdigest()}.{ext}"
