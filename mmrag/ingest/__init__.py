"""PDF ingestion: parse_pdf turns one PDF into page, text, figure and table elements.

PyMuPDF parsing, layout and reading order, chunks, figures, tables, captions, page renders and OCR.
May import only the base modules (elements, settings, errors).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmrag.ingest.ocr import OCREngine, OCRLine, RapidOCREngine, TesseractEngine, load_ocr
    from mmrag.ingest.parse import ParsedDocument, parse_pdf

# Loaded on first use: `mmrag.ingest.clock` and friends must not pull PyMuPDF into a process that only dispatches.
_LAZY = {"OCREngine": "ocr", "OCRLine": "ocr", "RapidOCREngine": "ocr", "TesseractEngine": "ocr", "load_ocr": "ocr",
         "ParsedDocument": "parse", "parse_pdf": "parse"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"mmrag.ingest.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "OCREngine",
    "OCRLine",
    "ParsedDocument",
    "RapidOCREngine",
    "TesseractEngine",
    "load_ocr",
    "parse_pdf",
]
