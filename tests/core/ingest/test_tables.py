from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from pymupdf.table import Table

from mmrag.ingest.figures import page_drawings
from mmrag.ingest.tables import _cell_text, _header_above, _numeric_columns, _Words, compact_grid, find_tables

DATA = Path(__file__).parent / "data"
# One page of a public SEC filing (Best Buy's 10-Q for the second quarter of fiscal 2024, page 17): three tables
# ruled by row shading and rules under column groups; the middle one (store counts) comes out of PyMuPDF's finder
# as 31 columns, most of them empty in every row.
BESTBUY_P17 = DATA / "bestbuy_10q_fy24q2_p17.pdf"
# Boeing's 10-K for 2022, page 55: the consolidated statement of operations, its body ruled, its column headers
# ("Years ended December 31, 2022 2021 2020") set on the line just above the rules.
BOEING_P55 = DATA / "boeing_10k_2022_p55.pdf"


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


def test_column_headers_on_the_line_above_a_ruled_statement_head_its_columns() -> None:
    page = pymupdf.open(BOEING_P55)[0]
    [table] = find_tables(page, page_drawings(page))
    assert table.header == ["Years ended December 31,", "2022", "2021", "2020"]
    assert table.rows[0] == ["Sales of products", "$55,893", "$51,386", "$47,142"]
    assert table.bbox[1] < 140 < table.bbox[3]  # the header line (y 134-144) is inside the table's box


def _ruled_amounts(*line_above: tuple[float, str]) -> pymupdf.Page:
    """A page with a ruled 3-column table of amounts (no header row inside the rules) and words set on one line just
    above it, each (x, text)."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    rows = [["Revenue", "1,200", "1,100"], ["Costs", "(800)", "(750)"], ["Operating income", "400", "350"],
            ["Net income", "310", "280"]]
    xs, top, height = [72, 260, 400, 540], 120, 18
    for i, row in enumerate(rows):
        y = top + i * height
        for j, text in enumerate(row):
            page.draw_rect(pymupdf.Rect(xs[j], y, xs[j + 1], y + height), color=(0, 0, 0), width=0.5)
            page.insert_text((xs[j] + 4, y + 13), text, fontsize=10)
    for x, text in line_above:
        page.insert_text((x, top - 3), text, fontsize=10)
    return page


def test_a_sentence_or_amounts_above_a_ruled_table_are_no_header_but_column_names_are() -> None:
    page = _ruled_amounts((76, "Operating results of the company for the two most recent fiscal years, in millions of"
                               " US dollars, as reported"))
    [table] = find_tables(page, page_drawings(page))
    assert table.header[0] == "Revenue"
    # a row of amounts just above is a row of another table, not names (PyMuPDF's own external header may still
    # take it; ours does not)
    data_above = _ruled_amounts((76, "Cash"), (320, "737,877"), (460, "1,200"))
    [grid] = data_above.find_tables().tables
    words = _Words(data_above.get_text("words"))
    rows = [[_cell_text(words, c) if c else "" for c in r.cells] for r in grid.rows]
    assert rows[0] == ["Revenue", "1,200", "1,100"]
    assert _header_above(words, grid, rows) is None
    assert _header_above(_Words(_ruled_amounts((76, "Year"), (320, "2023"), (460, "2022")).get_text("words")),
                         grid, rows) is not None
    headed = _ruled_amounts((76, "Fiscal year"), (320, "2023"), (460, "2022"))
    [table] = find_tables(headed, page_drawings(headed))
    assert table.header == ["Fiscal year", "2023", "2022"] and table.rows[0][0] == "Revenue"
