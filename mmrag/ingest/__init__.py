"""PDF ingestion: parse_pdf turns one PDF into page, text, figure and table elements.

PyMuPDF parsing, layout and reading order, chunks, figures, tables, captions, page renders and OCR.
May import only the base modules (elements, settings, errors).
"""

from __future__ import annotations

from mmrag.ingest.ocr import OCREngine, OCRLine, RapidOCREngine, TesseractEngine, load_ocr
from mmrag.ingest.parse import ParsedDocument, parse_pdf

__all__ = [
    "OCREngine",
    "OCRLine",
    "ParsedDocument",
    "RapidOCREngine",
    "TesseractEngine",
    "load_ocr",
    "parse_pdf",
]
