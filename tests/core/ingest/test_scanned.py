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


def _figure_pdf(tmp_path, image, name="fig.pdf"):
    import io

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Figure 1: The plant.", fontsize=9)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    page.insert_image(pymupdf.Rect(72, 80, 372, 280), stream=buf.getvalue())
    path = tmp_path / name
    doc.save(path)
    return path


def _lettering():
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (300, 200), (255, 255, 255))
    ImageDraw.Draw(img).text((20, 80), "HELLO PLANT 42", fill=(0, 0, 0))
    return img


def test_raster_figure_gets_ocr_text(tmp_path, store):
    from mmrag.ingest import parse_pdf
    from mmrag.settings import IngestSettings

    path = _figure_pdf(tmp_path, _lettering())
    engine = _FakeEngine()
    parsed = parse_pdf(path, path.name, IngestSettings(), store, ocr=engine)
    fig = next(e for e in parsed.elements if e.kind == "figure")
    assert fig.text == "HELLO" and engine.calls == 1
    assert fig.meta["label"] == "Figure 1"  # caption above


def test_ocr_gate_skips_pictures_without_strokes_unless_turned_off(tmp_path, store):
    from PIL import Image

    from mmrag.ingest import parse_pdf
    from mmrag.settings import IngestSettings

    flat = Image.linear_gradient("L").resize((300, 200)).convert("RGB")  # a smooth gradient: nothing to read
    path = _figure_pdf(tmp_path, flat)
    engine = _FakeEngine()
    fig = next(e for e in parse_pdf(path, path.name, IngestSettings(), store, ocr=engine).elements
               if e.kind == "figure")
    assert fig.text == "" and engine.calls == 0
    parse_pdf(path, path.name, IngestSettings(ocr_gate=False), store, ocr=engine)
    assert engine.calls == 1


def test_ocr_reads_figures_at_their_own_resolution_not_upscaled(tmp_path, store):
    from mmrag.ingest import parse_pdf
    from mmrag.settings import IngestSettings

    path = _figure_pdf(tmp_path, _lettering())  # 300 px over 300 pt: 72 dpi of its own
    sizes = []

    class Sizes(_FakeEngine):
        def read(self, image):
            sizes.append(image.size)
            return super().read(image)

    parse_pdf(path, path.name, IngestSettings(figure_dpi=144, ocr_min_dpi=96), store, ocr=Sizes())
    assert len(sizes) == 1 and sizes[0][0] == 400  # 96 dpi (the floor), not the crop's 144 (600 px)


def test_ocr_results_are_cached_by_pixels_across_documents(tmp_path, store):
    from mmrag.ingest import parse_pdf
    from mmrag.settings import IngestSettings

    cache: dict[str, str] = {}

    class DictCache:
        def get(self, key):
            return cache.get(key)

        def put(self, key, value):
            cache[key] = value

    engine = _FakeEngine()
    for name in ("a.pdf", "b.pdf"):  # the same picture in two documents: recognised once
        path = _figure_pdf(tmp_path, _lettering(), name)
        fig = next(e for e in parse_pdf(path, name, IngestSettings(), store, ocr=engine,
                                        ocr_cache=DictCache()).elements if e.kind == "figure")
        assert fig.text == "HELLO"
    assert engine.calls == 1 and len(cache) == 1
