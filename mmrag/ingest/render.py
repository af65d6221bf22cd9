"""Page renders and region crops from one display list per page (the page is interpreted once)."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pymupdf
from PIL import Image

from mmrag.ingest.blocks import Rect4
from mmrag.ingest.clock import stage, timed

_T = TypeVar("_T")


# A render MuPDF refuses is retried at half the resolution (and at most RETRY_PIXELS), up to RENDER_RETRIES times.
RENDER_RETRIES = 4
RETRY_PIXELS = 16_000_000


class RenderError(Exception):
    """A page or region that MuPDF could not render at any resolution tried (the message says why)."""


class PageRenderer:
    """Renders a page and crops of it as PNG; the page's content stream is interpreted once.

    A render MuPDF refuses (e.g. "Invalid bandwriter header dimensions/setup" or "Overly large image" on huge
    pages, or out of memory) is retried at half the resolution, at most RETRY_PIXELS, up to RENDER_RETRIES times,
    then raises RenderError.
    """

    def __init__(self, page: pymupdf.Page, max_pixels: int = 0) -> None:
        """max_pixels: renders larger than this are made at a lower resolution (0: no limit)."""
        self.rect = page.rect
        self.max_pixels = max_pixels
        self.reduced = False  # a render was made at a lower resolution to stay under max_pixels
        self.retried = ""  # what MuPDF said when it refused a render that then succeeded at a lower resolution
        self.list: pymupdf.DisplayList | None = None
        self.error = ""
        try:
            with stage("render"):
                self.list = page.get_displaylist()
        except Exception as exc:  # the page cannot be interpreted for drawing: no render, its text still counts
            self.error = _describe(exc)

    def png(self, dpi: int, clip: Rect4 | None = None) -> bytes:
        return self._render(dpi, clip, png_bytes)

    def pixmap(self, dpi: int, clip: Rect4 | None = None) -> pymupdf.Pixmap:
        return self._render(dpi, clip, lambda pix: pix)

    def pixmap_png(self, dpi: int, clip: Rect4 | None = None) -> tuple[pymupdf.Pixmap, bytes]:
        """The pixmap and its PNG, from one render (the PNG encoder is where MuPDF refuses some pixmaps)."""
        return self._render(dpi, clip, lambda pix: (pix, png_bytes(pix)))

    def image(self, dpi: int, clip: Rect4 | None = None) -> Image.Image:
        pix = self.pixmap(dpi, clip)
        return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)

    @timed("render")
    def _render(self, dpi: int, clip: Rect4 | None, finish: Callable[[pymupdf.Pixmap], _T]) -> _T:
        """Render (then `finish`: encode) the page or a region, retrying at half the resolution on failure."""
        if self.list is None:
            raise RenderError(self.error)
        box = self.rect if clip is None else pymupdf.Rect(clip) & self.rect
        if box.is_empty or box.width <= 0 or box.height <= 0:
            raise RenderError(f"nothing to render: region {tuple(round(v, 1) for v in box)} is empty")
        zoom = dpi / 72
        if self.max_pixels and box.width * box.height * zoom * zoom > self.max_pixels:
            zoom = (self.max_pixels / max(box.width * box.height, 1.0)) ** 0.5
            self.reduced = True
        for attempt in range(RENDER_RETRIES + 1):
            try:
                pix = self.list.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=box, alpha=False)
                if pix.width <= 0 or pix.height <= 0:
                    raise RenderError(f"an empty {pix.width}x{pix.height} render")
                done = finish(pix)
            except Exception as exc:
                error = _describe(exc)
                if attempt == RENDER_RETRIES or min(box.width, box.height) * zoom / 2 < 1:
                    break
                zoom = min(zoom / 2, (RETRY_PIXELS / max(box.width * box.height, 1.0)) ** 0.5)
                continue
            if attempt:
                self.retried = error
            return done
        raise RenderError(error)


try:  # ISA-L's deflate: 5 to 6 times as fast as zlib's level 1 on page renders, for files about a sixth larger
    from isal.isal_zlib import compress as _deflate
except ImportError:  # (a platform without its wheel) zlib's
    from zlib import compress as _deflate

PNG_LEVEL = 1  # deflate level of the renders' PNGs


def png_bytes(pix: pymupdf.Pixmap, level: int = PNG_LEVEL) -> bytes:
    """The pixmap as a PNG: rows unfiltered, deflated at `level` by ISA-L (zlib without it): MuPDF's pixels.

    MuPDF's own PNG writer deflates at zlib's default level, which was most of the render stage (a 72-dpi page:
    ~5 ms to render, ~50 ms to encode). Level 1 without row filters took ~40% of that time for files ~25% larger;
    ISA-L at its level 1 takes about 0.7 ms where zlib's level 1 took 4 ms (row filters: larger files here, whose
    pages are mostly white). Pixmaps other than gray or RGB without alpha go to MuPDF's writer.
    """
    if pix.alpha or pix.n not in (1, 3):
        return pix.tobytes("png")
    width, height, n = pix.width, pix.height, pix.n
    rows = np.frombuffer(pix.samples, dtype=np.uint8).reshape(height, -1)[:, : width * n]
    raw = np.zeros((height, width * n + 1), dtype=np.uint8)  # each row: filter type 0 (none), then its bytes
    raw[:, 1:] = rows
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if n == 1 else 2, 0, 0, 0)
    return b"".join((b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header),
                     _png_chunk(b"IDAT", _deflate(raw.tobytes(), level)), _png_chunk(b"IEND", b"")))


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    text = re.sub(r"^code=\d+:\s*", "", text)  # MuPDF's "code=4: Invalid bandwriter header dimensions/setup"
    return text or type(exc).__name__


def without_large_images(doc: pymupdf.Document, pno: int, max_pixels: int) -> pymupdf.Page:
    """A copy of page pno (in a new in-memory document) with images over max_pixels removed, so it renders safely."""
    tmp = pymupdf.open()
    tmp.insert_pdf(doc, from_page=pno, to_page=pno)
    page = tmp[0]
    for info in page.get_image_info():
        if info.get("width", 0) * info.get("height", 0) > max_pixels:
            page.add_redact_annot(info["bbox"])
    page.apply_redactions(
        images=pymupdf.PDF_REDACT_IMAGE_REMOVE,
        graphics=pymupdf.PDF_REDACT_LINE_ART_NONE,
        text=pymupdf.PDF_REDACT_TEXT_NONE,
    )
    return page
