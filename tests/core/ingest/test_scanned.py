from __future__ import annotations

import pymupdf
import pytest

from mmrag.ingest import load_ocr
from mmrag.ingest.ocr import OCRLine

ENGINE = load_ocr("auto")


def _scanned_pdf(path) -> None:
    """Render a text page to pixels and make a new PDF whose only page is that image."""
    src = pymupdf.open()
    page = src.new_page()
    page.insert_text((72, 100), "Quarterly Report", fontsize=28)
    page.insert_textbox(pymupdf.Rect(72, 140, 520, 300), "The turbine efficiency improved by twelve percent "
                        "after the maintenance window in March.", fontsize=16)
    pix = page.get_pixmap(dpi=150)
    doc = pymupdf.open()
    scan = doc.new_page(width=page.rect.width, height=page.rect.height)
    scan.insert_image(scan.rect, stream=pix.tobytes("png"))
    doc.save(path)


@pytest.mark.skipif(ENGINE is None, reason="no OCR engine available")
def test_scanned_page_ocr(tmp_path, store):
    from mmrag.ingest import parse_pdf
    from mmrag.settings import IngestSettings

    path = tmp_path / "scan.pdf"
    _scanned_pdf(path)
    parsed = parse_pdf(path, path.name, IngestSettings(), store, ocr=ENGINE)
    assert parsed.ocr_pages == [1]
    page = next(e for e in parsed.elements if e.kind == "page")
    assert "turbine" in page.text.lower() and page.meta["scanned"]
    chunks = [e for e in parsed.elements if e.kind == "text"]
    assert chunks and any("efficiency" in e.text.lower() for e in chunks)
    assert all(e.meta["source"] == "ocr" for e in chunks)
    # boxes come back in PDF points: the paragraph sits inside the page, below the title
    assert all(0 <= e.bbox[0] < e.bbox[2] <= 600 and 0 <= e.bbox[1] < e.bbox[3] <= 842 for e in chunks)
    assert not [e for e in parsed.elements if e.kind == "figure"]


def test_scanned_page_without_ocr_warns(tmp_path, parse):
    path = tmp_path / "scan.pdf"
    _scanned_pdf(path)
    parsed = parse(path, ocr="none")
    assert parsed.ocr_pages == [] and any("scanned" in w for w in parsed.warnings)
    assert not [e for e in parsed.elements if e.kind == "figure"]


class _FakeEngine:
    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image):
        self.calls += 1
        return [OCRLine("HELLO", (0, 0, image.width / 2, image.height / 4), 0.99)]


def test_raster_figure_gets_ocr_text(tmp_path, store):
    import io

    from PIL import Image

    from mmrag.ingest import parse_pdf
    from mmrag.settings import IngestSettings

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Figure 1: The plant.", fontsize=9)
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 10)).save(buf, format="PNG")
    page.insert_image(pymupdf.Rect(72, 80, 372, 280), stream=buf.getvalue())
    path = tmp_path / "fig.pdf"
    doc.save(path)
    engine = _FakeEngine()
    parsed = parse_pdf(path, path.name, IngestSettings(), store, ocr=engine)
    fig = next(e for e in parsed.elements if e.kind == "figure")
    assert fig.text == "HELLO" and engine.calls == 1
    assert fig.meta["label"] == "Figure 1"  # caption above
