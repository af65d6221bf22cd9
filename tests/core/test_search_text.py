from __future__ import annotations

from mmrag.elements import Element
from mmrag.search_text import compact_table, split_run_together

STATEMENT = """| | Assets |  |  |  |
|---|---|---|---|---|
| Cash and due from banks |  | $ | 5,510 |  | $ | 1,292 |
| Net margin |  | 12.5 | % |  | (3.1 | ) |
| Total assets |  | 228,354 |  | 188,548 |"""


def test_compact_table_keeps_every_label_and_number_without_the_markup():
    out = compact_table(STATEMENT)
    assert out.splitlines() == [
        "Assets",
        "Cash and due from banks | 5,510 | 1,292",
        "Net margin | 12.5% | (3.1)",
        "Total assets | 228,354 | 188,548",
    ]


def test_compact_table_passes_text_that_is_not_a_table_through():
    assert compact_table("Table 4: Revenue by segment\n\n| a | b |") == "Table 4: Revenue by segment\na | b"


def test_a_long_table_reads_every_row_label_before_its_values():
    from mmrag.search_text import LABELS_FIRST_CHARS

    items = [f"Line item number {n} of the summary" for n in range(60)]
    rows = "\n".join(f"| {item} | $ | {n},512 |  | {n}.5 | % |" for n, item in enumerate(items))
    title = "Table 1: Summary of financial performance"
    out = compact_table(f"{title}\n| (Millions) | 2022 | 2021 |\n|---|---|---|\n{rows}")
    lines = out.splitlines()
    assert lines[0] == title
    assert lines[1] == "; ".join(["(Millions)", *items])  # every label, within the encoder's first tokens
    assert lines[2] == "2022 | 2021" and lines[3] == "0,512 | 0.5%" and lines[-1] == "59,512 | 59.5%"
    words = sorted(compact_table(rows).replace(";", " ").replace("|", " ").split())
    assert words == sorted(" ".join(f"{item} {n},512 {n}.5%" for n, item in enumerate(items)).split())  # BM25's
    short = "| Effective tax rate | 21.6 | % |\n|---|---|\n| Net income | 7,514 |"
    assert len(short) < LABELS_FIRST_CHARS and compact_table(short) == "Effective tax rate | 21.6%\nNet income | 7,514"


def test_run_together_words_are_split():
    assert split_run_together("Coal-firedcapacityintheU.s.electricpowersector") == (
        "Coal-fired capacity in the U.s.electric power sector")  # tokenizers split at "."
    assert split_run_together("CLOUD NATIVE COMPUTINGFOUNDATION") == "CLOUD NATIVE COMPUTING FOUNDATION"
    assert split_run_together("BrokenAuthenticationandSessionManagement") == (
        "Broken Authentication and Session Management")


def test_words_and_names_stay_whole():
    text = "Kubernetes telecommunications internationalization of the SciPy stack"
    assert split_run_together(text) == text


def test_searchable_text_of_a_table_is_compact_and_the_stored_text_is_not():
    e = Element(id="t", doc="d.pdf", doc_sha256="x", page=1, kind="table", bbox=(0, 0, 1, 1), text=STATEMENT,
                meta={"path": ["Item 8", "Consolidated Balance Sheets"]})
    searchable = e.searchable_text("section")
    assert searchable.startswith("Item 8 > Consolidated Balance Sheets\n")
    assert "Total assets | 228,354 | 188,548" in searchable and "|---" not in searchable
    assert e.text == STATEMENT


def test_letter_spaced_headings_become_words():
    assert split_run_together("c a s e s t u d i e s / WHAT WE LEARNED") == "case studies / WHAT WE LEARNED"
    assert split_run_together("r a t i o n a l e") == "rationale"
    assert split_run_together("let x y z w be vectors") == "let x y z w be vectors"  # four letters: variables


def test_the_section_path_is_cleaned_too():
    e = Element(id="c", doc="d.pdf", doc_sha256="x", page=9, kind="text", bbox=(0, 0, 1, 1),
                text="Census staff tested this workshop", meta={"path": ["c a s e s t u d i e s"]})
    assert e.searchable_text("section").startswith("case studies\n")
