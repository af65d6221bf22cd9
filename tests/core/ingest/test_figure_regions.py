from __future__ import annotations

import pymupdf
from factories import striped_png

from mmrag.ingest.figures import page_drawings

# A chart drawn inside a clip path (PDF coordinates: y up): axes, three bars, and a dashed divider whose line runs
# from far below the page to far above it, as exported charts often draw it; only the part inside the clip shows.
CLIPPED_CHART = b"""q
100 200 300 150 re W n
0 0 0 RG 0.8 w
110 210 m 110 340 l S
110 210 m 390 210 l S
0.2 0.4 0.8 rg
140 210 40 60 re f
220 210 40 90 re f
300 210 40 120 re f
0.5 0.5 0.5 RG 0.5 w [3 1] 0 d
320 -600 m 320 2000 l S
Q
"""


def _page_with_clipped_chart(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_image(pymupdf.Rect(100, 60, 400, 250), stream=striped_png(600, 380))  # a map above the chart
    xref = doc.get_new_xref()
    doc.update_object(xref, "<<>>")
    doc.update_stream(xref, CLIPPED_CHART)
    contents = page.get_contents()
    doc.xref_set_key(page.xref, "Contents", "[" + " ".join(f"{x} 0 R" for x in [*contents, xref]) + "]")
    path = tmp_path / "clipped.pdf"
    doc.save(path)
    return path


def test_drawings_are_cut_to_their_clip_and_the_page(tmp_path):
    page = pymupdf.open(_page_with_clipped_chart(tmp_path))[0]
    drawings = page_drawings(page)
    assert len(drawings) == len(page.get_drawings())
    divider = next(d for d in drawings if d["rect"].height > 1000)  # its raw box runs off the page both ways
    x0, y0, x1, y1 = divider["clipped"]
    assert (y0, y1) == (792 - 350, 792 - 200) and x0 == x1 == 320


def test_a_line_running_past_its_clip_does_not_join_the_picture_above_into_one_figure(tmp_path, parse):
    parsed = parse(_page_with_clipped_chart(tmp_path))
    figs = sorted((e for e in parsed.elements if e.kind == "figure"), key=lambda e: e.bbox[1])
    assert [f.meta["figure_type"] for f in figs] == ["raster", "vector"]
    assert figs[0].bbox == (100, 60, 400, 250)
    assert figs[1].bbox[1] >= 792 - 350 - 1 and figs[1].bbox[3] <= 792 - 200 + 1
