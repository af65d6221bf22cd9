from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from pymupdf.table import Table

from mmrag.ingest.figures import page_drawings
from mmrag.ingest.tables import _numeric_columns, compact_grid, find_tables

DATA = Path(__file__).parent / "data"
# One page of a public SEC filing (Best Buy's 10-Q for the second quarter of fiscal 2024, page 17): three tables
# ruled by row shading and rules under column groups; the middle one (store counts) comes out of PyMuPDF's finder
# as 31 columns, most of them empty in every row.
BESTBUY_P17 = DATA / "bestbuy_10q_fy24q2_p17.pdf"


def test_compact_grid_drops_empty_rows_and_columns() -> None:
    grid = [["", "", "", ""], ["", "Fiscal 2024", "", ""], ["Best Buy", "", "908", ""], ["Total", "", "966", ""]]
    assert compact_grid(grid) == [["", "Fiscal 2024", ""], ["Best Buy", "", "908"], ["Total", "", "966"]]
    assert compact_grid([["", ""], ["", ""]]) == []


def test_columns_of_amounts_make_a_sparse_grid_a_table_but_prose_and_doubled_ticks_do_not() -> None:
    amounts = [["", "2022", "2021", "% Change"], ["Reported Sales", "$23,706", "$24,804", "(4.4)%"],
               ["Net Earnings", "$3,520", "$4,736", "(25.7)%"], ["EPS (diluted)", "$1.33", "$1.77", "-"]]
    assert _numeric_columns(amounts) == 3
    slide = [["TOPS Code of Conduct", "", ""], ["We strive to create a welcoming culture", "", "Contact"],
             ["Submit feedback", "questions", ""], ["Follow us", "", "#NASATOPS"]]
    assert _numeric_columns(slide) == 0
    chart = [["", "0.94 0.94", "forecast forecast"], ["0.68 0.68", "", ""], ["", "0.30 0.30", "0.28 0.28"],
             ["net net", "", "change change"]]
    assert _numeric_columns(chart) == 0
    assert _numeric_columns(amounts[:3]) == 0  # two body rows are too few to tell


def test_a_shaded_table_of_store_counts_is_found_with_its_numbers() -> None:
    page = pymupdf.open(BESTBUY_P17)[0]
    tables = find_tables(page, page_drawings(page))
    assert len(tables) == 3
    stores = next(t for t in tables if any("Stores Opened" in c for c in t.rows[0]))
    rows = {r[0]: [c for c in r[1:] if c] for r in stores.rows}
    assert rows["Best Buy"] == ["908", "-", "(1)", "907", "931", "1", "(2)", "930"]
    assert rows["Total"][:4] == ["966", "5", "(2)", "969"]
    assert not any(all(not r[j] for r in [stores.header, *stores.rows]) for j in range(stores.n_cols))


def test_the_page_parses_to_tables_not_a_vector_figure(parse) -> None:
    doc = parse(BESTBUY_P17)
    tables = [e for e in doc.elements if e.kind == "table"]
    figures = [e for e in doc.elements if e.kind == "figure"]
    assert len(tables) == 3 and not figures
    assert any("| Yardbird |" in t.text and "22" in t.text for t in tables)


def test_the_header_finder_reads_our_rows_not_the_whole_table_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyMuPDF's header finder extracts the whole table (a Python loop over every glyph) only to name its top row:
    it gets the rows already read instead, with the same tables as a result."""
    page = pymupdf.open(BESTBUY_P17)[0]
    before = find_tables(page, page_drawings(page))
    calls = []
    original = Table.extract
    monkeypatch.setattr(Table, "extract", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    assert find_tables(page, page_drawings(page)) == before
    assert not calls


def test_header_renders_from_the_display_list_and_the_page_is_left_as_it_was() -> None:
    """With the page's display list, the header finder's renders come from it (its text from one extraction):
    the same tables, and no attribute of ours stays on the page afterwards."""
    page = pymupdf.open(BESTBUY_P17)[0]
    before = find_tables(page, page_drawings(page))
    display_list = page.get_displaylist()
    renders = []
    original = pymupdf.DisplayList.get_pixmap

    def counted(self: pymupdf.DisplayList, *args: object, **kwargs: object) -> pymupdf.Pixmap:
        renders.append(self is display_list)
        return original(self, *args, **kwargs)

    pymupdf.DisplayList.get_pixmap = counted
    try:
        assert find_tables(page, page_drawings(page), display_list=display_list) == before
    finally:
        pymupdf.DisplayList.get_pixmap = original
    assert renders and all(renders)
    assert "get_textbox" not in vars(page) and "get_pixmap" not in vars(page)
