from __future__ import annotations

import io

import pymupdf
from PIL import Image

BODY = "Body text that explains the results in some detail for the reader. " * 4


def _png(w: int, h: int, color=(40, 120, 200)) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (w, h), color)
    for x in range(0, w, 7):  # some structure so it is not a flat colour
        img.putpixel((x, h // 2), (255, 255, 255))
    img.save(buf, format="PNG")
    return buf.getvalue()


def _bar_chart(page: pymupdf.Page, x0: float, y0: float) -> pymupdf.Rect:
    """Axes, five separate bars, tick labels and an axis title; returns the drawing's extent."""
    base = y0 + 150
    page.draw_line((x0, y0), (x0, base), color=(0, 0, 0), width=0.8)
    page.draw_line((x0, base), (x0 + 260, base), color=(0, 0, 0), width=0.8)
    for i in range(5):
        h = 30 + 22 * i
        page.draw_rect(pymupdf.Rect(x0 + 15 + i * 50, base - h, x0 + 45 + i * 50, base), color=None,
                       fill=(0.2, 0.4, 0.8))
        page.insert_text((x0 + 22 + i * 50, base + 12), f"Q{i + 1}", fontsize=7)
    page.insert_text((x0 - 20, y0 + 10), "100", fontsize=7)
    page.insert_text((x0 + 100, base + 26), "Revenue quarter", fontsize=7)
    return pymupdf.Rect(x0, y0, x0 + 260, base)


def _text(page: pymupdf.Page, pos: tuple[float, float], text: str, size: float = 9) -> None:
    """Text in an embedded font, so dashes and other non-Latin-1 characters survive."""
    writer = pymupdf.TextWriter(page.rect)
    writer.append(pos, text, font=pymupdf.Font("helv"), fontsize=size)
    writer.write_text(page)


def _table(page: pymupdf.Page, x0: float, y0: float, rows: list[list[str]]) -> pymupdf.Rect:
    cw, rh = 110, 18
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(x0 + c * cw, y0 + r * rh, x0 + (c + 1) * cw, y0 + (r + 1) * rh)
            page.draw_rect(rect, color=(0, 0, 0), width=0.6)
            page.insert_text((rect.x0 + 4, rect.y1 - 5), cell, fontsize=8)
    return pymupdf.Rect(x0, y0, x0 + cw * len(rows[0]), y0 + rh * len(rows))


ROWS = [["Model", "Recall", "Note"], ["alpha", "0.91", "a|b"], ["beta", "0.87", ""], ["gamma", "0.78", "best"]]


def test_raster_figure_cropped_with_caption_below(tmp_path, parse, store):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), BODY, fontsize=10)
    page.insert_image(pymupdf.Rect(72, 160, 372, 310), stream=_png(600, 300))
    page.insert_text((72, 328), "Figure 3: A photo of the test rig.", fontsize=9)
    path = tmp_path / "raster.pdf"
    doc.save(path)
    parsed = parse(path)
    figs = [e for e in parsed.elements if e.kind == "figure"]
    assert len(figs) == 1
    f = figs[0]
    assert f.meta == {"figure_type": "raster", "label": "Figure 3"}
    assert f.caption == "Figure 3: A photo of the test rig."
    img = Image.open(io.BytesIO(store[f.image]))
    assert img.format == "PNG" and abs(img.width / img.height - 2.0) < 0.05
    assert img.width >= 590  # 300 pt at 144 dpi
    texts = [e.text for e in parsed.elements if e.kind == "text"]
    assert not any("photo of the test rig" in t for t in texts)


def test_vector_bar_chart_is_one_figure_with_labels(tmp_path, parse, store):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), BODY, fontsize=10)
    extent = _bar_chart(page, 120, 200)
    page.insert_text((72, 400), "Fig. 2. Quarterly revenue.", fontsize=9)
    path = tmp_path / "chart.pdf"
    doc.save(path)
    parsed = parse(path)
    figs = [e for e in parsed.elements if e.kind == "figure"]
    assert len(figs) == 1
    f = figs[0]
    assert f.meta["figure_type"] == "vector" and f.meta["label"] == "Figure 2"
    assert f.caption.startswith("Fig. 2.")
    x0, y0, x1, y1 = f.bbox
    assert x0 <= extent.x0 - 20 and y1 >= extent.y1 + 20  # "100" and the axis title are inside
    assert "Q3" in f.text and "Revenue quarter" in f.text
    assert not any(e.kind == "table" for e in parsed.elements)
    assert not any("Revenue quarter" in e.text for e in parsed.elements if e.kind == "text")


def test_logo_filtered(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(pymupdf.Rect(40, 30, 70, 55), stream=_png(64, 50, (200, 0, 0)))
    page.draw_circle((560, 40), 10, color=(0, 0, 0), fill=(0, 0.6, 0))
    page.insert_textbox(pymupdf.Rect(72, 80, 520, 200), BODY, fontsize=10)
    path = tmp_path / "logo.pdf"
    doc.save(path)
    assert not [e for e in parse(path).elements if e.kind == "figure"]


def test_table_markdown_with_caption_above(tmp_path, parse, store):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), BODY, fontsize=10)
    _text(page, (72, 170), "Table 1 – Recall by model.")
    _table(page, 72, 180, ROWS)
    path = tmp_path / "table.pdf"
    doc.save(path)
    parsed = parse(path)
    tables = [e for e in parsed.elements if e.kind == "table"]
    assert len(tables) == 1
    t = tables[0]
    assert t.text.splitlines()[:2] == ["| Model | Recall | Note |", "|---|---|---|"]
    assert "| alpha | 0.91 | a\\|b |" in t.text and "| beta | 0.87 |  |" in t.text
    assert t.meta["n_rows"] == 4 and t.meta["n_cols"] == 3 and t.meta["header"] == ROWS[0]
    assert t.caption == "Table 1 – Recall by model." and t.meta["label"] == "Table 1"
    assert Image.open(io.BytesIO(store[t.image])).format == "PNG"
    assert not [e for e in parsed.elements if e.kind == "figure"]
    texts = "\n".join(e.text for e in parsed.elements if e.kind == "text")
    assert "gamma" not in texts and "Recall by model" not in texts


def test_table_continued_on_next_page(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 600), "Table 2: Long results.", fontsize=9)
    _table(page, 72, 610, ROWS)
    page = doc.new_page()
    _table(page, 72, 72, [ROWS[0], ["delta", "0.5", "x"], ["eps", "0.4", "y"]])
    path = tmp_path / "cont.pdf"
    doc.save(path)
    tables = [e for e in parse(path).elements if e.kind == "table"]
    assert len(tables) == 2
    assert tables[1].meta["continues"] == tables[0].id and "continues" not in tables[0].meta


def test_uncaptioned_caption_is_text(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), BODY, fontsize=10)
    page.insert_text((72, 300), "Figure 9: A figure that did not survive.", fontsize=9)
    path = tmp_path / "orphan.pdf"
    doc.save(path)
    caps = [e for e in parse(path).elements if e.kind == "text" and e.meta.get("caption")]
    assert len(caps) == 1 and caps[0].meta["label"] == "Figure 9"


def test_ids_stable(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), BODY, fontsize=10)
    _bar_chart(page, 120, 200)
    path = tmp_path / "stable.pdf"
    doc.save(path)
    a, b = parse(path), parse(path)
    assert [e.id for e in a.elements] == [e.id for e in b.elements]
    assert len({e.id for e in a.elements}) == len(a.elements)


def test_layout_model_path_finds_table(tmp_path, parse):
    import pytest

    from mmrag.ingest.layout import layout_available

    if not layout_available():
        pytest.skip("pymupdf.layout is not installed")
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), BODY, fontsize=10)
    page.insert_text((72, 170), "Table 1: Recall by model.", fontsize=9)
    _table(page, 72, 180, ROWS)
    path = tmp_path / "layout.pdf"
    doc.save(path)
    tables = [e for e in parse(path, use_layout=True).elements if e.kind == "table"]
    assert len(tables) == 1 and tables[0].meta["label"] == "Table 1"


def test_image_repeated_on_most_pages_is_decoration_and_keeps_the_slide_title(tmp_path, parse):
    """A logo on every slide is not a figure; merged with the slide's chart it would swallow the title."""
    doc = pymupdf.open()
    logo, chart = _png(300, 100, (200, 30, 30)), _png(800, 400)
    titles = ["Revenue by region", "Hiring plan", "Timeline of releases", "Open questions"]
    for n, title in enumerate(titles):
        page = doc.new_page(width=960, height=540)
        page.insert_image(pymupdf.Rect(820, 10, 950, 55), stream=logo)
        _text(page, (380, 45), title, size=30)
        page.insert_textbox(pymupdf.Rect(40, 460, 900, 530), BODY, fontsize=12)
        page.insert_image(pymupdf.Rect(40, 70, 800, 450), stream=chart if n == 2 else _png(700 + n, 350))
    path = tmp_path / "deck.pdf"
    doc.save(path)
    parsed = parse(path)
    figs = [e for e in parsed.elements if e.kind == "figure"]
    assert [f.page for f in figs] == [1, 2, 3, 4]  # one figure per slide: the chart, not the logo
    assert all(f.bbox[1] >= 65 for f in figs)  # not stretched up to the logo, over the title
    assert [f.meta.get("path") for f in figs] == [[t] for t in titles]


def test_an_image_on_two_pages_only_stays_a_figure(tmp_path, parse):
    doc = pymupdf.open()
    photo = _png(600, 300)
    for n in range(6):
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), BODY, fontsize=10)
        if n in (1, 4):
            page.insert_image(pymupdf.Rect(72, 160, 372, 310), stream=photo)
    path = tmp_path / "twice.pdf"
    doc.save(path)
    figs = [e for e in parse(path).elements if e.kind == "figure"]
    assert [f.page for f in figs] == [2, 5]
