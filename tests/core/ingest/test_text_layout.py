from __future__ import annotations

import pymupdf

LEFT = "Alpha paragraph about left column matters. " * 6
RIGHT = "Omega paragraph about right column matters. " * 6


def _two_column_pdf(path) -> None:
    doc = pymupdf.open()
    for n in range(1, 4):
        page = doc.new_page()  # 612 x 792
        page.insert_text((72, 40), "ACME Quarterly Review", fontsize=8)
        page.insert_text((300, 770), f"{n}", fontsize=8)
        page.insert_text((72, 90), f"Section {n} Results", fontsize=16)
        page.insert_textbox(pymupdf.Rect(72, 110, 296, 400), f"Left{n} start. " + LEFT + f"Left{n} end.", fontsize=10)
        page.insert_textbox(pymupdf.Rect(316, 110, 540, 400), f"Right{n} start. " + RIGHT + f"Right{n} end.",
                            fontsize=10)
    doc.save(path)


def test_two_column_reading_order(tmp_path, parse):
    path = tmp_path / "cols.pdf"
    _two_column_pdf(path)
    parsed = parse(path)
    text = "\n".join(e.text for e in parsed.elements if e.kind == "text" and e.page == 1)
    order = [text.index(w) for w in ("Left1 start", "Left1 end", "Right1 start", "Right1 end")]
    assert order == sorted(order)


def test_headers_footers_and_page_numbers_excluded(tmp_path, parse):
    path = tmp_path / "cols.pdf"
    _two_column_pdf(path)
    parsed = parse(path)
    chunks = [e for e in parsed.elements if e.kind == "text"]
    assert chunks
    for e in chunks:
        assert "ACME Quarterly" not in e.text
        assert e.bbox[3] < 700  # the page number at the bottom is nowhere
    pages = [e for e in parsed.elements if e.kind == "page"]
    assert len(pages) == 3 and "ACME Quarterly" in pages[0].text


def test_heading_prefixes_chunks(tmp_path, parse):
    path = tmp_path / "cols.pdf"
    _two_column_pdf(path)
    parsed = parse(path)
    chunks = [e for e in parsed.elements if e.kind == "text" and e.page == 2]
    assert chunks and all(e.meta["section"] == "Section 2 Results" for e in chunks)
    # the heading is the chunk's section path, put before its text where the text channel reads it
    assert all(e.meta["path"] == ["Section 2 Results"] for e in chunks)
    assert all(e.searchable_text().startswith("Section 2 Results\n") for e in chunks)
    assert not any(e.searchable_text("none").startswith("Section 2 Results") for e in chunks)


def test_long_paragraph_split_at_sentences(tmp_path, parse):
    doc = pymupdf.open()
    page = doc.new_page()
    body = " ".join(f"Sentence number {i} talks about a topic." for i in range(60))
    page.insert_textbox(pymupdf.Rect(72, 72, 540, 720), body, fontsize=10)
    path = tmp_path / "long.pdf"
    doc.save(path)
    chunks = [e for e in parse(path, chunk_chars=400).elements if e.kind == "text"]
    assert len(chunks) >= 5
    assert all(len(e.text) <= 420 and e.text.rstrip().endswith(".") for e in chunks)


def test_fragments_in_two_columns_make_one_chunk(tmp_path, parse):
    # an unruled table: its labels and its figures are two short "columns"; each alone would be a chunk of a few
    # words carrying a whole section header, and the figures would lose the labels they belong to
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), "Revenue Deductions", fontsize=16)
    page.insert_textbox(pymupdf.Rect(72, 110, 296, 400), "Medicare rebates\nMedicaid rebates\nPerformance contracts",
                        fontsize=10)
    page.insert_textbox(pymupdf.Rect(316, 110, 540, 400), "1,405 1,310\n2,120 2,040\n605 590", fontsize=10)
    path = tmp_path / "fragments.pdf"
    doc.save(path)
    chunks = [e for e in parse(path).elements if e.kind == "text"]
    assert len(chunks) == 1
    assert "Medicare rebates" in chunks[0].text and "2,120 2,040" in chunks[0].text
    assert chunks[0].meta["path"] == ["Revenue Deductions"]
