"""A page MuPDF will not render keeps its text, tables and figure crops: the render is retried at lower
resolutions, and when it still fails the page element keeps its text without pixels, with a one-line warning that
says what was kept. Real PDFs parsed by PyMuPDF; only the failing render is forced, with MuPDF's own exception."""

from __future__ import annotations

import io

import pymupdf
import pytest
from PIL import Image

from mmrag.ingest.render import RENDER_RETRIES, PageRenderer, RenderError

BODY = "The shipping volumes rose in the second half of the year across every port we track. " * 3
ODD = (600.0, 900.0)  # the page size that the forced failure picks out


def _mupdf_error() -> Exception:
    """MuPDF's own exception for the failure seen on huge pages (raised by its PNG band writer)."""
    try:
        pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 0, 0)).tobytes("png")
    except Exception as exc:
        return exc
    raise AssertionError("MuPDF accepted an empty pixmap")


def _png(w: int, h: int) -> bytes:
    img = Image.new("RGB", (w, h), (40, 120, 200))
    for x in range(0, w, 7):
        img.putpixel((x, h // 2), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _pdf(path) -> None:
    """Three pages; the second (600x900 pt) has prose, a ruled table and a photo."""
    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(72, 72, 520, 300), "Port report. " + BODY, fontsize=10)
    page = doc.new_page(width=ODD[0], height=ODD[1])
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 160), "Harbour volumes. " + BODY, fontsize=10)
    rows = [["Port", "TEU", "Change"], ["Northgate", "4120", "+3%"], ["Southmere", "2980", "-1%"],
            ["Eastwick", "1875", "+7%"]]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(72 + c * 110, 200 + r * 18, 72 + (c + 1) * 110, 200 + (r + 1) * 18)
            page.draw_rect(rect, color=(0, 0, 0), width=0.6)
            page.insert_text((rect.x0 + 4, rect.y1 - 5), cell, fontsize=8)
    page.insert_text((72, 300), "Table 1: Container volumes by port.", fontsize=9)
    page.insert_image(pymupdf.Rect(72, 340, 372, 490), stream=_png(600, 300))
    page.insert_text((72, 508), "Figure 2: The crane at Northgate.", fontsize=9)
    doc.new_page().insert_textbox(pymupdf.Rect(72, 72, 520, 300), "Outlook. " + BODY, fontsize=10)
    doc.save(path)


def _force_failure(monkeypatch: pytest.MonkeyPatch, *, page_render: bool, crops: bool, below_zoom: float = 0.0
                   ) -> list[float]:
    """Make MuPDF refuse renders on the 600x900 page (the whole page, its crops or both) at zoom > below_zoom;
    returns the zooms of the refused renders."""
    real = pymupdf.DisplayList.get_pixmap
    refused: list[float] = []

    def get_pixmap(self, matrix=None, *args, clip=None, **kwargs):
        rect = pymupdf.Rect(self.rect)
        whole = clip is None or pymupdf.Rect(clip) == rect
        zoom = pymupdf.Matrix(matrix).a if matrix is not None else 1.0
        if (rect.width, rect.height) == ODD and (page_render if whole else crops) and zoom > below_zoom:
            refused.append(zoom)
            raise _mupdf_error()
        return real(self, matrix, *args, clip=clip, **kwargs)

    monkeypatch.setattr(pymupdf.DisplayList, "get_pixmap", get_pixmap)
    return refused


def test_a_page_that_will_not_render_keeps_its_text_table_and_figure_crop(tmp_path, parse, store, monkeypatch):
    path = tmp_path / "ports.pdf"
    _pdf(path)
    refused = _force_failure(monkeypatch, page_render=True, crops=False)
    parsed = parse(path)
    assert len(refused) == RENDER_RETRIES + 1  # the first try and each lower resolution
    on2 = [e for e in parsed.elements if e.page == 2]
    page = next(e for e in on2 if e.kind == "page")
    assert page.image is None and "Harbour volumes" in page.text and "Northgate" in page.text
    assert "bandwriter" in page.meta["render_error"]
    table = next(e for e in on2 if e.kind == "table")
    figure = next(e for e in on2 if e.kind == "figure")
    assert "Southmere" in table.text and table.image in store and figure.image in store
    assert Image.open(io.BytesIO(store[figure.image])).width >= 590  # the crop at full resolution
    assert any("Harbour volumes" in e.text for e in on2 if e.kind == "text")
    assert all(e.image for e in parsed.elements if e.kind == "page" and e.page != 2)  # the other pages as ever
    (warning,) = [w for w in parsed.warnings if w.startswith("page 2:")]
    assert "Invalid bandwriter header dimensions/setup" in warning
    assert "kept its text (" in warning and "1 table and 1 figure" in warning and "without a page image" in warning
    assert "\n" not in warning


def test_when_crops_fail_too_the_elements_keep_their_text(tmp_path, parse, store, monkeypatch):
    path = tmp_path / "ports.pdf"
    _pdf(path)
    _force_failure(monkeypatch, page_render=True, crops=True)
    parsed = parse(path)
    on2 = {e.kind: e for e in parsed.elements if e.page == 2}
    assert set(on2) == {"page", "text", "table", "figure"}
    assert on2["page"].image is None and on2["table"].image is None and on2["figure"].image is None
    assert "Eastwick" in on2["table"].text and on2["figure"].caption.startswith("Figure 2")
    (warning,) = [w for w in parsed.warnings if w.startswith("page 2:")]
    assert "1 table and 1 figure (without crops)" in warning
    assert warning.count("bandwriter") == 1  # the crops' failures are not repeated


def test_a_refused_render_is_retried_at_a_lower_resolution(tmp_path, parse, store, monkeypatch):
    path = tmp_path / "ports.pdf"
    _pdf(path)
    refused = _force_failure(monkeypatch, page_render=True, crops=False, below_zoom=0.5)  # page_dpi 72: zoom 1
    parsed = parse(path)
    assert refused == [1.0]
    page = next(e for e in parsed.elements if e.page == 2 and e.kind == "page")
    img = Image.open(io.BytesIO(store[page.image]))
    assert (img.width, img.height) == (300, 450)  # half of 600x900 at 72 dpi
    assert "render_error" not in page.meta
    assert any(w.startswith("page 2: rendered at a lower resolution after MuPDF refused it (Invalid bandwriter")
               for w in parsed.warnings)


def test_a_huge_page_is_rendered_under_the_pixel_cap_after_mupdf_refuses_it(tmp_path, parse, store):
    """No cap set (max_render_pixels=0): a 1,080,000 pt page (UserUnit 75) is too large for MuPDF at 72 dpi."""
    doc = pymupdf.open()
    page = doc.new_page(width=14400, height=14400)
    page.insert_text((72, 200), "A site plan drawn at full scale.", fontsize=120)
    doc.xref_set_key(page.xref, "UserUnit", "75")
    path = tmp_path / "plan.pdf"
    path.write_bytes(doc.tobytes())
    parsed = parse(path, max_render_pixels=0)
    (page_el,) = [e for e in parsed.elements if e.kind == "page"]
    img = Image.open(io.BytesIO(store[page_el.image]))
    assert img.width * img.height <= 16_000_000
    assert any("after MuPDF refused it" in w for w in parsed.warnings)
    assert "site plan" in page_el.text


def test_an_empty_region_is_a_render_error_not_a_crash() -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    renderer = PageRenderer(page)
    with pytest.raises(RenderError, match="empty"):
        renderer.png(144, (700, 900, 800, 950))  # outside the page
    assert renderer.png(72)[:4] == b"\x89PNG"


@pytest.mark.parametrize("colorspace", [pymupdf.csRGB, pymupdf.csGRAY])
def test_renders_are_lossless_pngs_of_the_pixmap(colorspace) -> None:
    """png_bytes (deflate level 1, no row filters) holds exactly MuPDF's pixels, gray or RGB; alpha goes to MuPDF."""
    from mmrag.ingest.render import png_bytes

    doc = pymupdf.open()
    page = doc.new_page(width=203, height=101)  # odd sizes: rows whose stride is not a multiple of 4
    page.insert_text((10, 50), "Ports 2023: 4,120 TEU", fontsize=14, color=(0.8, 0.1, 0.2))
    page.draw_rect(pymupdf.Rect(120, 10, 190, 90), color=(0, 0, 1), fill=(0.3, 0.9, 0.4))
    pix = page.get_pixmap(colorspace=colorspace, alpha=False)
    img = Image.open(io.BytesIO(png_bytes(pix)))
    assert img.mode == ("RGB" if colorspace == pymupdf.csRGB else "L")
    assert (img.width, img.height) == (pix.width, pix.height) and img.tobytes() == pix.samples
    with_alpha = page.get_pixmap(alpha=True)
    assert png_bytes(with_alpha) == with_alpha.tobytes("png")
