"""PDF ingestion: parse_pdf turns one PDF into page, text, figure and table elements."""

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
