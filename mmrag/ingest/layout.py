"""Regions from PyMuPDF's layout model (pymupdf.layout, an ONNX model): tables, pictures, running text."""

from __future__ import annotations

from dataclasses import dataclass, field

import pymupdf

from mmrag.ingest.blocks import Rect4
from mmrag.ingest.tables import FoundTable, find_tables


@dataclass
class LayoutRegions:
    tables: list[FoundTable] = field(default_factory=list)
    pictures: list[Rect4] = field(default_factory=list)
    running: list[Rect4] = field(default_factory=list)  # page-header / page-footer boxes


def layout_available() -> bool:
    try:
        import pymupdf.layout  # noqa: F401
    except ImportError:
        return False
    return callable(getattr(pymupdf, "_get_layout", None))


def layout_regions(page: pymupdf.Page) -> LayoutRegions:
    """Run the layout model once (through find_tables, which gates line-based tables by its table boxes)."""
    tables = find_tables(page, use_layout=True)
    info = getattr(page, "layout_information", None) or []
    out = LayoutRegions(tables=tables)
    for *box, cls in info:
        box = tuple(float(v) for v in box[:4])
        if cls == "picture":
            out.pictures.append(box)
        elif cls in ("page-header", "page-footer"):
            out.running.append(box)
    return out
