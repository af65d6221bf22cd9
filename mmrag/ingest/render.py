"""Page renders and region crops from one display list per page (the page is interpreted once)."""

from __future__ import annotations

import pymupdf
from PIL import Image

from mmrag.ingest.blocks import Rect4


class PageRenderer:
    """Renders a page and crops of it as PNG; the page's content stream is interpreted once."""

    def __init__(self, page: pymupdf.Page, max_pixels: int = 0) -> None:
        """max_pixels: renders larger than this are made at a lower resolution (0: no limit)."""
        self.rect = page.rect
        self.list = page.get_displaylist()
        self.max_pixels = max_pixels
        self.reduced = False

    def png(self, dpi: int, clip: Rect4 | None = None) -> bytes:
        return self.pixmap(dpi, clip).tobytes("png")

    def pixmap(self, dpi: int, clip: Rect4 | None = None) -> pymupdf.Pixmap:
        box = self.rect if clip is None else pymupdf.Rect(clip) & self.rect
        zoom = dpi / 72
        if self.max_pixels and box.width * box.height * zoom * zoom > self.max_pixels:
            zoom = (self.max_pixels / max(box.width * box.height, 1.0)) ** 0.5
            self.reduced = True
        return self.list.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=box, alpha=False)

    def image(self, dpi: int, clip: Rect4 | None = None) -> Image.Image:
        pix = self.pixmap(dpi, clip)
        return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)


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
