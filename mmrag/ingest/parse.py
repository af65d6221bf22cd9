"""parse_pdf / stream_pdf: one PDF into page, text, figure and table elements with crops, captions and OCR.

This module drives a document: opening it (bad files raise BadPDF), limits, running headers and footers across
pages, streaming fragments of BATCH_PAGES pages; the work on each page is `mmrag.ingest.page_parser`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pymupdf

from mmrag.errors import BadPDF
from mmrag.ingest.blocks import TEXT_FLAGS, Block, body_font_size, extract_blocks, number_lines
from mmrag.ingest.clock import CLOCK, stage
from mmrag.ingest.document import ParsedDocument, PutPixels, pixel_key
from mmrag.ingest.margins import running_lines
from mmrag.ingest.ocr import OCRCache, OCREngine
from mmrag.ingest.page_parser import DocumentParser
from mmrag.ingest.pdf import open_pdf
from mmrag.settings import IngestSettings

__all__ = ["BATCH_PAGES", "ParsedDocument", "PutPixels", "parse_pdf", "pixel_key", "stream_pdf"]

log = logging.getLogger(__name__)

BATCH_PAGES = 8  # pages per streamed fragment: what a worker holds (and sends) at once


def parse_pdf(
    path: str | Path,
    doc: str,
    settings: IngestSettings,
    put_pixels: PutPixels,
    ocr: OCREngine | None = None,
    progress: Callable[[int, int], None] | None = None,
    ocr_cache: OCRCache | None = None,
) -> ParsedDocument:
    """Parse one PDF into elements; pixels go through put_pixels(data, ext) -> key.

    doc: the document's name in the index (usually its file name). ocr: an OCR engine to use; None loads
    settings.ocr lazily, only when a scanned page or a raster figure needs it.
    Raises EncryptedPDF, CorruptPDF, EmptyPDF or BadPDF (too many pages); a page that fails becomes a warning.
    """
    result: ParsedDocument | None = None
    for part in stream_pdf(path, doc, settings, ocr=ocr, put_pixels=put_pixels, ocr_cache=ocr_cache):
        if result is None:
            result = part
        else:
            result.extend(part)
        if progress is not None and part.elements:
            progress(part.elements[-1].page, part.pages)
    assert result is not None
    return result


def stream_pdf(
    path: str | Path,
    doc: str,
    settings: IngestSettings,
    ocr: OCREngine | None = None,
    put_pixels: PutPixels | None = None,
    ocr_cache: OCRCache | None = None,
    batch_pages: int = BATCH_PAGES,
) -> Iterator[ParsedDocument]:
    """Parse one PDF as fragments of up to batch_pages consecutive pages, so that no more is held at once.

    The first fragment comes right after the file is opened (no elements yet: doc, sha256, pages, warnings).
    Without put_pixels, each fragment carries its own image bytes in `pixels`. A document that passes
    settings.max_elements stops there, with a warning. Raises what `parse_pdf` raises.
    """
    with stage("open"):
        opened = open_pdf(path, settings.max_pages)
    pdf = opened.doc
    pixels: dict[str, bytes] = {}

    def keep_pixels(data: bytes, ext: str) -> str:
        key = pixel_key(data, ext)
        pixels[key] = data
        return key

    result = ParsedDocument(doc=doc, sha256=opened.sha256, pages=pdf.page_count, warnings=list(opened.warnings))
    parser = DocumentParser(pdf, result, settings, keep_pixels if put_pixels is None else put_pixels, ocr, ocr_cache)
    try:
        yield result
        parser.result = _fragment(result)  # the header has gone: later warnings travel with the pages
        with stage("text"):
            page_blocks, heights = _document_text(pdf, parser.result.warnings)
            body = body_font_size(page_blocks)
            running = running_lines(page_blocks, heights)
        total = 0
        for pno in range(pdf.page_count):
            if pno and pno % batch_pages == 0:
                parser.result.pixels = pixels
                total += len(parser.result.elements)
                yield parser.result
                parser.result = _fragment(result)
                pixels = {}
                if total >= settings.max_elements:
                    parser.result.warnings.append(
                        f"truncated after page {pno}: over max_elements={settings.max_elements}"
                    )
                    break
            raw = page_blocks[pno]
            page_blocks[pno] = []  # a parsed page is let go
            blocks = [Block([ln for ln in b.lines if id(ln) not in running[pno]]) for b in raw]
            blocks = [b for b in blocks if b.lines]
            number_lines(blocks)
            done = len(parser.result.elements)
            try:
                with stage("layout"):  # what the nested stages (render, tables, OCR) leave: drawings, figures, chunks
                    parser.parse_page(pno, blocks, raw, body)
                CLOCK.page_done()
            except Exception as exc:
                del parser.result.elements[done:]
                log.debug("page %d of %s failed", pno + 1, path, exc_info=True)
                parser.result.warnings.append(f"page {pno + 1}: could not be parsed: {type(exc).__name__}: {exc}")
        if parser.scans_without_ocr:
            parser.result.warnings.append(f"pages {parser.scans_without_ocr} look scanned but no OCR engine ran")
        if total + len(parser.result.elements) == 0:  # every page failed (a page that parses has its page element)
            last = parser.result.warnings[-1] if parser.result.warnings else "unknown"
            raise BadPDF(path, f"no page could be parsed ({last})")
        parser.result.pixels = pixels
        yield parser.result
    finally:
        pdf.close()


def _document_text(pdf: pymupdf.Document, warnings: list[str]) -> tuple[list[list[Block]], list[float]]:
    """Every page's text blocks and height, read up front (running headers and the body size need them all)."""
    page_blocks: list[list[Block]] = []
    heights: list[float] = []
    for pno in range(pdf.page_count):
        try:
            page = pdf[pno]
            heights.append(page.rect.height)
            page_blocks.append(extract_blocks(page.get_text("dict", flags=TEXT_FLAGS)))
        except Exception as exc:
            del heights[pno:]
            heights.append(792.0)
            page_blocks.append([])
            warnings.append(f"page {pno + 1}: text extraction failed: {exc}")
    return page_blocks, heights


def _fragment(first: ParsedDocument) -> ParsedDocument:
    return ParsedDocument(doc=first.doc, sha256=first.sha256, pages=first.pages)
