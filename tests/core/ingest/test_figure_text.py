from __future__ import annotations

import os
import subprocess
import sys

import pymupdf
import pytest
from factories import striped_png

from mmrag.ingest.figure_text import _ranges, chart_labels, is_tick

INTRO = "The survey covered every region of the country in two rounds. Output fell sharply in the north. "
AFTER = "Production recovered in the following year once the new wells came online. "


def _figures(parsed):
    return [e for e in parsed.elements if e.kind == "figure"]


def _photo_page(tmp_path, heading_below: bool = True):
    """A heading, a paragraph, a photo without text, a paragraph, then the next section's heading and prose."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 60), "Regional oil output", fontsize=16)
    page.insert_textbox(pymupdf.Rect(72, 75, 520, 140), INTRO * 2, fontsize=10)
    page.insert_image(pymupdf.Rect(72, 115, 372, 265), stream=striped_png(600, 300))
    page.insert_textbox(pymupdf.Rect(72, 275, 520, 360), AFTER, fontsize=10)
    if heading_below:
        page.insert_text((72, 390), "Natural gas prices", fontsize=16)
        page.insert_textbox(pymupdf.Rect(72, 400, 520, 460), "Henry Hub spot prices rose in winter. " * 3,
                            fontsize=10)
    path = tmp_path / "photo.pdf"
    doc.save(path)
    return path


def test_a_figure_without_text_carries_its_heading_and_the_prose_around_it(tmp_path, parse):
    parsed = parse(_photo_page(tmp_path), figure_context_chars=300)
    (f,) = _figures(parsed)
    assert f.meta["heading"] == "Regional oil output"
    lines = f.text.split("\n")
    assert lines[0] == "Regional oil output"
    assert "Output fell sharply in the north." in f.text  # the paragraph above, its last sentences
    assert "new wells came online" in f.text  # and below
    assert "Natural gas" not in f.text and "Henry Hub" not in f.text  # the next section is not about it
    assert len(f.text) < 400


def test_by_default_a_figure_carries_the_heading_only(tmp_path, parse):
    parsed = parse(_photo_page(tmp_path))  # the default: the heading, not the prose
    (f,) = _figures(parsed)
    assert f.text == "Regional oil output"


def test_the_heading_comes_from_above_not_from_the_next_section(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(pymupdf.Rect(72, 72, 372, 222), stream=striped_png(600, 300))
    page.insert_text((72, 300), "Natural gas prices", fontsize=16)
    page.insert_textbox(pymupdf.Rect(72, 310, 520, 360), AFTER * 2, fontsize=10)
    path = tmp_path / "top.pdf"
    doc.save(path)
    (f,) = _figures(parse(path, figure_context_chars=300))
    assert "heading" not in f.meta
    assert "Natural gas" not in f.text and "wells" not in f.text  # prose past a heading belongs to it


def _line_chart(page: pymupdf.Page) -> None:
    """A line chart with year ticks, value ticks, two series named in a legend, a title and a source line."""
    x0, y0, base = 120, 200, 350
    page.draw_line((x0, y0), (x0, base), color=(0, 0, 0), width=0.8)
    page.draw_line((x0, base), (x0 + 300, base), color=(0, 0, 0), width=0.8)
    page.draw_polyline([(x0 + 10, base - 20), (x0 + 100, base - 80), (x0 + 200, base - 60), (x0 + 290, base - 120)],
                       color=(0.8, 0.1, 0.1), width=1.5)
    page.draw_polyline([(x0 + 10, base - 10), (x0 + 100, base - 30), (x0 + 200, base - 50), (x0 + 290, base - 40)],
                       color=(0.1, 0.1, 0.8), width=1.5)
    for i, year in enumerate(range(2015, 2026, 2)):
        page.insert_text((x0 + 5 + i * 50, base + 12), str(year), fontsize=7)
    for i, v in enumerate(range(0, 13, 4)):
        page.insert_text((x0 - 16, base - i * 45), str(v), fontsize=7)
    page.insert_text((x0 + 310, y0 + 40), "Permian", fontsize=7)
    page.insert_text((x0 + 310, y0 + 55), "Eagle Ford", fontsize=7)
    page.insert_text((x0, y0 - 8), "Monthly crude oil production by region", fontsize=8)
    page.insert_text((x0, base + 26), "Data source: U.S. Energy Information Administration, Short-Term Outlook",
                     fontsize=6)


def test_a_chart_keeps_its_axis_and_legend_as_fields(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), INTRO * 2, fontsize=10)
    _line_chart(page)
    path = tmp_path / "chart.pdf"
    doc.save(path)
    (f,) = _figures(parse(path))
    assert f.meta["figure_type"] == "vector"
    assert f.meta["axis"] == ["2015–2025", "0–12"]
    assert {"Permian", "Eagle Ford"} <= set(f.meta["legend"])
    assert "Monthly crude oil production by region" in f.text
    assert "Permian; Eagle Ford" in f.text and "2015–2025" in f.text
    assert "2019" not in f.text  # ticks between the ends are folded into the range


def test_chart_labels_off_keeps_the_figure_text_as_drawn(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    _line_chart(page)
    path = tmp_path / "chart.pdf"
    doc.save(path)
    (f,) = _figures(parse(path, chart_labels=False))
    assert "axis" not in f.meta and "legend" not in f.meta
    assert "2019" in f.text.split("\n")


@pytest.mark.parametrize("text", ["12", "-3.5", "1,000", "45%", "$1.2bn", "2024", "Jan", "Sept 2023", "Q3 24",
                                  "(2.0)"])
def test_ticks(text):
    assert is_tick(text)


@pytest.mark.parametrize("text", ["Permian", "A01:2021", "v0.13.3", "2021−22 winter", "Figure 3", ""])
def test_not_ticks(text):
    assert not is_tick(text)


def test_a_diagram_with_few_numbers_is_no_chart():
    assert chart_labels(["A01 Broken Access Control", "Server-Side Request Forgery", "2021", "2025"]) is None


def test_chart_labels_sort_ticks_legend_and_notes():
    labels = chart_labels(["0", "5", "10 15 20", "Oct", "Nov", "Dec", "Jan", "coal", "natural gas", "coal",
                           "Note: shaded area marks the forecast period beyond the last month of data"])
    assert labels is not None
    assert labels.axis == ["0–20", "Oct–Jan"]
    assert labels.legend == ["coal", "natural gas"]
    assert labels.other == ["Note: shaded area marks the forecast period beyond the last month of data"]


def test_a_heading_over_another_figure_is_not_the_next_figures(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 60), "Regional oil output", fontsize=16)
    page.insert_image(pymupdf.Rect(72, 80, 372, 230), stream=striped_png(600, 300))
    page.insert_image(pymupdf.Rect(72, 300, 372, 450), stream=striped_png(600, 300))
    path = tmp_path / "two.pdf"
    doc.save(path)
    first, second = sorted(_figures(parse(path)), key=lambda e: e.bbox[1])
    assert first.meta["heading"] == "Regional oil output"
    assert "heading" not in second.meta and second.text == ""


def test_a_date_off_to_the_side_is_no_title(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((470, 49), "December 2024", fontsize=10)
    page.insert_image(pymupdf.Rect(72, 72, 504, 320), stream=striped_png(600, 300))
    path = tmp_path / "dated.pdf"
    doc.save(path)
    (f,) = _figures(parse(path))
    assert "heading" not in f.meta


def test_digits_read_without_their_spaces_are_no_tick():
    assert not is_tick("2019202020212022202320242025")


def test_equal_tick_values_keep_the_first_label_seen_whatever_the_hash_seed() -> None:
    """"1" and "1," are the same value: the range starts at the one read first, not at whichever a set
    happens to yield first (that changed a PepsiCo figure's indexed text from one run to the next)."""
    assert _ranges(["1,", "1", "16,203"]) == ["1,–16,203"]
    assert _ranges(["1", "1,", "16,203"]) == ["1–16,203"]
    seeds = [subprocess.run([sys.executable, "-c", "from mmrag.ingest.figure_text import _ranges;"
                             "print(_ranges(['7', '3,', '3', '3.0', '9']))"],
                            env={**os.environ, "PYTHONHASHSEED": str(seed)}, capture_output=True, text=True,
                            check=True).stdout for seed in range(6)]
    assert set(seeds) == {"['3,–9']\n"}
