"""The section tree: outline entries and detected headings nest into a path that every chunk, table and page
knows; the document's title for the contextual header."""

from __future__ import annotations

import pymupdf

from mmrag.ingest.sections import SectionTracker, document_title, heading_rank, read_outline

BODY = "The business grew in every region and the board approved the plan for the coming years. " * 3


def _filing(path, toc: list[list] | None = None, title: str = "") -> None:
    """Four pages of a filing: Part I / Item 1 / a subheading, then Part II with Item 7 and its subsections."""
    doc = pymupdf.open()
    layout = [
        [("PART I", 16), ("Item 1. Business", 13), ("Overview", 11.5)],
        [("Competition", 11.5)],
        [("PART II", 16), ("Item 7. Management's Discussion and Analysis", 13), ("Liquidity", 11.5)],
        [],
    ]
    for headings in layout:
        page = doc.new_page()
        y = 72
        for text, size in headings:
            page.insert_text((72, y), text, fontsize=size, fontname="hebo")
            y += 20
            page.insert_textbox(pymupdf.Rect(72, y, 540, y + 90), BODY, fontsize=10)
            y += 100
        if not headings:
            page.insert_textbox(pymupdf.Rect(72, 72, 540, 300), BODY, fontsize=10)
    if toc:
        doc.set_toc(toc)
    if title:
        doc.set_metadata({"title": title})
    doc.save(path)


def _paths(parsed, kind: str = "text") -> dict[int, list[list[str]]]:
    out: dict[int, list[list[str]]] = {}
    for e in parsed.elements:
        if e.kind == kind:
            out.setdefault(e.page, []).append(e.meta["path"])
    return out


def test_headings_nest_by_what_they_say_then_by_size(tmp_path, parse):
    path = tmp_path / "10k.pdf"
    _filing(path)
    parsed = parse(path)
    paths = _paths(parsed)
    assert ["PART I", "Item 1. Business", "Overview"] in paths[1]
    assert paths[2][-1] == ["PART I", "Item 1. Business", "Competition"]  # a sibling replaces "Overview"
    assert ["PART II", "Item 7. Management's Discussion and Analysis", "Liquidity"] in paths[3]
    assert paths[4] == [["PART II", "Item 7. Management's Discussion and Analysis", "Liquidity"]]  # carried over
    # each page element lists the paths in force on it, from its top down
    page3 = next(e for e in parsed.elements if e.kind == "page" and e.page == 3)
    assert page3.meta["sections"][0] == ["PART I", "Item 1. Business", "Competition"]
    assert page3.meta["sections"][-1] == ["PART II", "Item 7. Management's Discussion and Analysis", "Liquidity"]
    # the chunk's text is its body; the path is the header the text channel puts before it
    chunk = next(e for e in parsed.elements if e.kind == "text" and e.meta["path"][-1] == "Liquidity")
    assert chunk.searchable_text("none") == chunk.text
    assert chunk.searchable_text("section").startswith("PART II > Item 7. Management's Discussion and Analysis > "
                                                        "Liquidity\nThe business")
    assert chunk.searchable_text("doc+section").startswith("10k\nPART II > Item 7.")


def test_outline_entries_open_sections_and_headings_nest_below(tmp_path, parse):
    path = tmp_path / "book.pdf"
    toc = [[1, "Part One", 1], [2, "Chapter A", 2], [1, "Part Two", 3], [2, "Slide Number 4", 4]]
    _filing(path, toc=toc, title="Annual Report 2022")
    parsed = parse(path)
    paths = _paths(parsed)
    # outline entries without a heading of their title open at the top of their page
    assert paths[1][0][:1] == ["Part One"] and paths[2][0][:2] == ["Part One", "Chapter A"]
    # headings nest under the outline entry in force (and lose the ones before it)
    assert paths[2][-1] == ["Part One", "Chapter A", "Competition"]
    assert paths[3][-1][0] == "Part Two" and "Chapter A" not in paths[3][-1]
    assert paths[3][-1][-1] == "Liquidity"
    chunk = next(e for e in parsed.elements if e.kind == "text" and e.page == 2)
    assert chunk.searchable_text("doc+section").startswith("Annual Report 2022\nPart One > Chapter A")


def test_outline_entries_that_name_no_section_are_left_out(tmp_path):
    doc = pymupdf.open()
    for _ in range(3):
        doc.new_page()
    doc.set_toc([[1, "Slide Number 1", 1], [1, "steo_text", 2], [1, "Results", 3]])
    assert read_outline(doc) == []  # one real entry is no outline
    doc.set_toc([[1, "Introduction", 1], [1, "Slide Number 2", 2], [1, "Results", 3]])
    assert [(e.title, e.page) for e in read_outline(doc)] == [("Introduction", 1), ("Results", 3)]
    doc.set_toc([[1, "1tab", 1], [1, "Overview", 1], [1, "Outlook", 2]])  # layer names such as "3atab" are junk
    assert [e.title for e in read_outline(doc)] == ["Overview", "Outlook"]
    # a lone top entry wrapping everything (the filing's own cover title) is left out, its children move up
    doc.set_toc([[1, "UNITED STATES SECURITIES AND EXCHANGE COMMISSION", 1], [2, "PART I", 1], [3, "Item 1", 1],
                 [2, "PART II", 3]])
    assert [(e.level, e.title) for e in read_outline(doc)] == [(2, "PART I"), (3, "Item 1"), (2, "PART II")]


def test_document_title_prefers_a_real_metadata_title() -> None:
    doc = pymupdf.open()
    doc.new_page()
    assert document_title(doc, "BOEING_2022_10K.pdf") == "BOEING 2022 10K"
    for junk in ("0000012927-23-000007", "PowerPoint Presentation", "Microsoft Word - draft.docx", "report.pdf"):
        doc.set_metadata({"title": junk})
        assert document_title(doc, "deck_v2.pdf") == "deck v2", junk
    doc.set_metadata({"title": "OWASP Top 10 - 2017"})
    assert document_title(doc, "x.pdf") == "OWASP Top 10 - 2017"


def test_tracker_ranks_and_depth() -> None:
    assert heading_rank("PART II", 9) < heading_rank("Chapter 3", 30) < heading_rank("Item 7A. Controls", 9)
    assert heading_rank("Item 7A. Controls", 9) < heading_rank("Note 4 - Income Taxes", 9) < heading_rank(
        "2.1 Methods", 9) < heading_rank("2.1.3 Sampling", 9) < heading_rank("Big title", 30) < heading_rank(
        "small title", 10)
    t = SectionTracker()
    for title, size in [("Part I", 14), ("Item 1", 12), ("Overview", 12), ("Markets", 11), ("Europe", 10),
                        ("France", 9.5)]:
        t.heading(title, size)
    assert t.path == ("Part I", "Markets", "Europe", "France")  # the top and the three deepest
    t.heading("Part II", 14)
    assert t.path == ("Part II",) and t.section == "Part II"


def test_a_part_set_on_one_line_with_its_first_item_is_two_sections() -> None:
    """PepsiCo's 10-K sets "PART I Item 1. Business." as one line: Item 1A must sit in Part I, not in Item 1."""
    t = SectionTracker()
    t.heading("PART I Item 1. Business.", 12)
    assert t.path == ("PART I", "Item 1. Business.") and t.section == "Item 1. Business."
    t.heading("Item 1A. Risk Factors.", 12)
    assert t.path == ("PART I", "Item 1A. Risk Factors.")
    t.heading("PART II — Item 5. Market for Registrant's Common Equity", 12)
    assert t.path == ("PART II", "Item 5. Market for Registrant's Common Equity")
    t.heading("Part III of this report covers directors", 12)  # no item after it: one heading, as before
    assert t.path == ("Part III of this report covers directors",)


def test_a_page_number_in_a_contents_list_opens_no_section(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    y = 72
    for text, size in [("CASE STUDIES", 16), ("Full-day workshop", 12), ("PAGE 11", 12), ("One-hour workshop", 12),
                       ("PAGE 12", 12)]:
        page.insert_text((72, y), text, fontsize=size, fontname="hebo")
        y += 22
    page.insert_textbox(pymupdf.Rect(72, y + 10, 540, y + 200), BODY, fontsize=10)
    path = tmp_path / "toolkit.pdf"
    doc.save(path)
    sections = next(e for e in parse(path).elements if e.kind == "page").meta["sections"]
    assert ["CASE STUDIES", "One-hour workshop"] in sections
    assert not any(title.startswith("PAGE") for p in sections for title in p)


def test_item_headings_set_with_a_full_stop_open_sections(tmp_path, parse):
    """Filings set their items in bold body type with a full stop ("Item 2. Properties."): they still open
    sections, while a bold sentence of the same size stays body text."""
    doc = pymupdf.open()
    page = doc.new_page()
    y = 72
    for heading in ("Item 2. Properties.", "Our plants may be disrupted by events outside our control.",
                    "Item\xa03. Legal Proceedings.", "Note 12. Debt."):
        page.insert_text((72, y), heading, fontsize=10, fontname="hebo")
        page.insert_textbox(pymupdf.Rect(72, y + 8, 540, y + 90), BODY, fontsize=10)
        y += 110
    path = tmp_path / "10k-items.pdf"
    doc.save(path)
    paths = [e.meta["path"] for e in parse(path).elements if e.kind == "text"]
    assert ["Item 2. Properties."] in paths
    assert ["Item 3. Legal Proceedings."] in paths
    assert ["Item 3. Legal Proceedings.", "Note 12. Debt."] in paths  # a note sits below an item
    assert not any("Our plants" in title for p in paths for title in p)


def test_a_heading_wrapped_over_two_blocks_is_one_and_a_clause_that_runs_on_is_none(tmp_path, parse):
    """A title set over two lines that PyMuPDF reads as two blocks ("... CONDITION AND" / "RESULTS OF
    OPERATIONS") opens one section; a larger clause ending in "and" (an exhibit set in bigger type) opens none."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "ITEM 7. MANAGEMENT'S DISCUSSION AND ANALYSIS OF FINANCIAL CONDITION AND", fontsize=10,
                     fontname="hebo")
    page.insert_text((72, 96), "RESULTS OF OPERATIONS (MD&A)", fontsize=10, fontname="hebo")  # a block of its own
    page.insert_textbox(pymupdf.Rect(72, 110, 540, 200), BODY, fontsize=10)
    page.insert_text((72, 230), "EXECUTIVE OVERVIEW", fontsize=10, fontname="hebo")
    page.insert_textbox(pymupdf.Rect(72, 240, 540, 330), BODY, fontsize=10)
    page.insert_text((72, 360), "2 percent multiplied by the Employee's Average Compensation, and", fontsize=12)
    page.insert_textbox(pymupdf.Rect(72, 372, 540, 460), BODY, fontsize=10)
    path = tmp_path / "10k-wrapped.pdf"
    doc.save(path)
    parsed = parse(path)
    paths = [e.meta["path"] for e in parsed.elements if e.kind == "text"]
    title = "ITEM 7. MANAGEMENT'S DISCUSSION AND ANALYSIS OF FINANCIAL CONDITION AND RESULTS OF OPERATIONS (MD&A)"
    assert [title] in paths
    assert [title, "EXECUTIVE OVERVIEW"] in paths
    assert not any(p and p[-1].endswith(", and") for p in paths)
    assert any("2 percent multiplied" in e.text for e in parsed.elements if e.kind == "text")
