"""Scanned pages: detection (no text layer, one image over most of the page) and OCR into text blocks."""

from __future__ import annotations

from statistics import median

from mmrag.ingest.blocks import Block, Line, Rect4, number_lines
from mmrag.ingest.ocr import OCRCache, OCREngine, OCRLine, cached_read
from mmrag.ingest.render import PageRenderer

OCR_DPI = 150  # when the scan's own resolution is unknown
MIN_OCR_DPI, MAX_OCR_DPI = 120, 200
MIN_TEXT_CHARS = 20
MIN_IMAGE_COVER = 0.5


def is_scanned(text_chars: int, image_boxes: list[Rect4], page_rect: Rect4) -> bool:
    """No usable text layer, and an image covering at least half of the page."""
    if text_chars >= MIN_TEXT_CHARS or not image_boxes:
        return False
    page_area = (page_rect[2] - page_rect[0]) * (page_rect[3] - page_rect[1])
    biggest = max((b[2] - b[0]) * (b[3] - b[1]) for b in image_boxes)
    return biggest >= MIN_IMAGE_COVER * page_area


def ocr_dpi(image_width_px: int, image_width_pt: float) -> int:
    """Render scans near their own resolution: sharper gains nothing, and OCR time grows with the pixels."""
    if image_width_px <= 0 or image_width_pt <= 0:
        return OCR_DPI
    return int(min(MAX_OCR_DPI, max(MIN_OCR_DPI, image_width_px / image_width_pt * 72)))


def ocr_page(
    renderer: PageRenderer, engine: OCREngine, dpi: int = OCR_DPI, cache: OCRCache | None = None
) -> list[Block]:
    """OCR the rendered page (through the cache when given); lines come back in PDF points, in paragraph blocks."""
    scale = 72 / dpi
    x0, y0 = renderer.rect.x0, renderer.rect.y0
    lines = [
        OCRLine(ln.text, (x0 + ln.bbox[0] * scale, y0 + ln.bbox[1] * scale, x0 + ln.bbox[2] * scale,
                          y0 + ln.bbox[3] * scale), ln.confidence)
        for ln in cached_read(engine, renderer.image(dpi), cache)[0]
    ]
    return group_lines(lines)


def group_lines(lines: list[OCRLine]) -> list[Block]:
    """Paragraph blocks from OCR lines: a new block where the vertical gap exceeds the line height or the
    line does not overlap the previous one horizontally."""
    if not lines:
        return []
    heights = [ln.bbox[3] - ln.bbox[1] for ln in lines]
    h = median(heights)
    rows = sorted(lines, key=lambda ln: (ln.bbox[1], ln.bbox[0]))
    blocks: list[Block] = []
    for ocr in rows:
        line = Line(ocr.text, ocr.bbox, round(ocr.bbox[3] - ocr.bbox[1], 1), False)
        placed = False
        for blk in reversed(blocks[-3:]):  # the open paragraphs of neighbouring columns
            last = blk.lines[-1].bbox
            gap = line.bbox[1] - last[3]
            overlap = min(line.bbox[2], last[2]) - max(line.bbox[0], last[0])
            if -0.5 * h <= gap <= 0.9 * h and overlap > 0:
                blk.lines.append(line)
                placed = True
                break
        if not placed:
            blocks.append(Block([line]))
    number_lines(blocks)
    return blocks
