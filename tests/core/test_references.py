"""References a question makes to its evidence: pages (in digits, words, ordinals, from the end, as a neighbour),
printed labels, the appendix, slides, figures, tables, covers."""

from __future__ import annotations

import pytest

from mmrag.query_rewrite import load_glossary
from mmrag.references import (
    appendix_start,
    find_references,
    names_folio,
    number_value,
    opens_with,
    ordinal_value,
    statement_pages,
    statement_title,
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What does the chart on page 14 show?", [("page", "14")]),
        ("In slide 5, which region leads?", [("page", "5")]),
        ("According to Figure 3, what rose?", [("figure", "3")]),
        ("What does Fig. 4b plot against table 12?", [("figure", "4b"), ("table", "12")]),
        ("Which units does Table 2 use?", [("table", "2")]),
        ("Who is named on the cover page?", [("first", "1")]),
        ("What contact is on the last page?", [("last", "-1")]),
        ("see p. iv for the preface", [("page", "iv")]),
        ("Table 2 and table 2 again", [("table", "2")]),
        # numbers in words and ordinals
        ("What is shown on page twelve?", [("page", "12")]),
        ("What is on page twenty-one of the report?", [("page", "21")]),
        ("What is on page twenty one?", [("page", "21")]),
        ("Read page one hundred and five", [("page", "105")]),
        ("What does slide number five list?", [("page", "5")]),
        ("What is on page no. 7?", [("page", "7")]),
        ("What does the fifth slide say?", [("first", "5")]),
        ("Which chart is on the ninth page?", [("first", "9")]),
        ("What is on the 5th slide?", [("first", "5")]),
        ("Who signs the twenty-first page?", [("first", "21")]),
        # positions from the end
        ("What is on the last but one page?", [("last", "-2")]),
        ("What does the penultimate slide show?", [("last", "-2")]),
        ("What is on the second to last page?", [("last", "-2")]),
        ("What is on the second-to-last slide?", [("last", "-2")]),
        ("What is on the next-to-last page?", [("last", "-2")]),
        ("What is on the last slide but one?", [("last", "-2")]),
        ("What is on the second from last slide?", [("last", "-2")]),
        ("What does the third page from the end list?", [("last", "-3")]),
        ("What is on the third-last page?", [("last", "-3")]),
        ("What is on the antepenultimate page?", [("last", "-3")]),
        # covers, opening and closing slides
        ("Who is on the front cover?", [("first", "1")]),
        ("What creature is pictured on the cover of the 2017 edition?", [("first", "1")]),
        ("Who is named on the opening slide?", [("first", "1")]),
        ("Which logo is on the title slide?", [("first", "1")]),
        ("What is on the back cover?", [("last", "-1")]),
        ("Which office is credited on the back page?", [("last", "-1")]),
        ("What is crossed out on the closing slide?", [("last", "-1")]),
        ("What is printed on the inside front cover?", [("first", "2")]),
        ("What is printed on the inside back cover?", [("last", "-2")]),
        # roman numerals and printed labels
        ("What does page xii list?", [("page", "xii")]),
        ("What is on page IV?", [("page", "iv")]),
        # the appendix
        ("Which months does the first table of the appendix compare?", [("appendix", "")]),
        ("What is listed in the appendices?", [("appendix", "")]),
        ("What does Appendix B describe?", [("appendix", "b")]),
        ("What does Annex 2 describe?", [("appendix", "2")]),
        ("Which table in the appendix a reader should check?", [("appendix", "")]),
        # several in one question, in the order they appear
        ("Compare page 3 with the penultimate page", [("page", "3"), ("last", "-2")]),
    ],
)
def test_references_found(query: str, expected: list[tuple[str, str]]) -> None:
    refs = find_references(query)
    assert [(r.kind, r.value) for r in refs] == expected
    assert all(r.offset == 0 for r in refs)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What is on the slide after slide 5?", ("page", "5", 1)),
        ("What is on the page before page twelve?", ("page", "12", -1)),
        ("What is on the page before the appendix?", ("appendix", "", -1)),
        ("What is on the page after the cover?", ("first", "1", 1)),
        ("What is on the first page after the cover?", ("first", "1", 1)),
        ("What is on the slide right before the closing slide?", ("last", "-1", -1)),
        ("What is on the slide that comes after the fifth slide?", ("first", "5", 1)),
        ("What is on the page preceding the penultimate page?", ("last", "-2", -1)),
        ("What slide immediately follows the 'Breakout Rooms' divider?", ("heading", "breakout rooms", 1)),
        ("What is on the page following “Key Findings”?", ("heading", "key findings", 1)),
    ],
)
def test_neighbours_of_a_named_page(query: str, expected: tuple[str, str, int]) -> None:
    refs = find_references(query)
    assert [(r.kind, r.value, r.offset) for r in refs] == [expected]  # the inner reference is not counted twice


@pytest.mark.parametrize(
    "query",
    [
        "What was revenue in 2022?", "How many page views per visit?", "What is the coverage ratio?",
        "Form 10-K page 10-3 data", "What is the tabled motion?",
        # words that name no page
        "What was revenue in the first quarter?", "Who wrote five pages of notes?",
        "Which is the second-largest region?", "How did sales change from last year?",
        "Is there a one page summary?", "What does the report cover?", "What is the interest cover ratio?",
        "Did the stock slide five percent?", "Did prices slide 5% in the third quarter?",
        "Was the fifth year the best?", "Which of the last three years grew most?", "the first two slides",
        "Read the page I bookmarked", "How many first page views were there?",
        "When was the last slide deck made?", "Which page is the longest?", "What is the next step after approval?",
        "What happened the year before the merger?", "What is on the page after the table of contents?",
        # a page of a part, not of the document
        "What is on the first page of the income statement?", "What is on the last page of the cash flow statement?",
        "What does the second page of the table show?",
    ],
)
def test_no_reference_where_none_is_named(query: str) -> None:
    assert find_references(query) == []


def test_reference_dict_carries_its_offset() -> None:
    (ref,) = find_references("the slide after slide 5")
    assert ref.to_dict() == {"kind": "page", "value": "5", "text": "the slide after slide 5", "offset": 1}


@pytest.mark.parametrize(("words", "n"), [("twelve", 12), ("twenty-one", 21), ("ninety nine", 99),
                                          ("one hundred and five", 105), ("three hundred", 300), ("7", 7)])
def test_number_words(words: str, n: int) -> None:
    assert number_value(words) == n


@pytest.mark.parametrize(("word", "n"), [("first", 1), ("fifth", 5), ("twelfth", 12), ("twentieth", 20),
                                         ("twenty-first", 21), ("thirty third", 33), ("21st", 21), ("3rd", 3)])
def test_ordinals(word: str, n: int) -> None:
    assert ordinal_value(word) == n


@pytest.mark.parametrize(
    ("opening", "part"),
    [
        ("Appendix\nLearning from First Version", ""),
        ("Appendix to the December 2024 Short-Term Energy Outlook\nThis appendix is prepared", ""),
        ("Annual Report 2023\nAppendix B: Methods\nWe sampled", "b"),
        ("ANNEX 2 - Glossary", "2"),
        ("Appendix A ........ 51\nAppendix B ........ 60", None),  # a contents page
        ("Appendix A describes the survey in detail.", None),  # a sentence, not a title
        ("Results\nThe appendix lists every site.", None),
        ("Introduction\nSome text\nMore text\nStill more\nAppendix", None),  # past the first lines
    ],
)
def test_appendix_start(opening: str, part: str | None) -> None:
    assert appendix_start(opening) == part


def test_opens_with_a_quoted_title() -> None:
    assert opens_with("Breakout Rooms\nLearn more and collaborate with us!", "breakout rooms")
    assert opens_with("Agenda\nKey  findings of the\nstudy", "Key findings")
    assert not opens_with("Intro\na\nb\nc\nd\nBreakout Rooms", "breakout rooms")


@pytest.mark.parametrize(
    ("opening", "ending", "value", "named"),
    [
        ("Intro\nbody", "more body\n12", "12", True),
        ("Intro\nbody", "body\nPage 12 of 80", "12", True),
        ("Intro\nbody", "body\n- 12 -", "12", True),
        ("Intro\nbody", "body\nU.S. Energy Information Administration | Short-Term Energy Outlook 12", "12", True),
        ("A6\n12\nSecurity Misconfiguration", "body", "12", True),
        ("iv\nPreface", "body", "iv", True),
        ("Intro\nbody", "body\n112", "12", False),
        ("Intro\nbody", "12\nCount of Years of AppSec", "12", False),  # a chart's value, not the last line
        ("Intro\nRevenue grew 12 percent", "body", "12", False),
    ],
)
def test_printed_folio(opening: str, ending: str, value: str, named: bool) -> None:
    assert names_folio(opening, ending, value) is named


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("In the Risk Factors section, which risk comes first?", [("section", "risk factor")]),
        ("Where does Part II begin?", [("section_start", "part 2")]),
        ("On which page does Item 7A start?", [("section_start", "item 7a")]),
        ("What is on the first page of Part II?", [("section_start", "part 2")]),
        ("Where does the Item 7 section end?", [("section_end", "item 7")]),
        ("What does the last page of the Risk Factors section say?", [("section_end", "risk factor")]),
        ("What does Note 7 disclose about leases?", [("section", "note 7")]),
        ("What is in Part 2 of the filing?", [("section", "part 2")]),
        ("What does Chapter III cover?", [("section", "chapter 3")]),
        ("What does Section 2.1 describe?", [("section", "section 2.1")]),
        ("Which three settings are covered by the case studies section of the toolkit?", [("section", "case studie")]),
        ("What code marks the methodology and data section?", [("section", "methodology and data")]),
        ("What does the section titled \"Liquidity and Capital Resources\" say?",
         [("section", "liquidity and capital resource")]),
        ("In the 'Our Approach' chapter, which step is last?", [("section", "our approach")]),
        ("What does the chapter on methodology say?", [("section", "methodology")]),
    ],
)
def test_section_references(query: str, expected: list[tuple[str, str]]) -> None:
    assert [(r.kind, r.value) for r in find_references(query)] == expected


@pytest.mark.parametrize(
    "query",
    ["What does this section say?", "Which section covers revenue recognition?", "What is in the next section?",
     "Show the cross-section of returns", "Is part 2% of revenue?", "the first section", "What part of revenue?",
     "Which item 5 days late?"],
)
def test_no_section_where_none_is_named(query: str) -> None:
    assert [r for r in find_references(query) if r.kind.startswith("section")] == []


STATEMENTS = load_glossary("finance").statements  # the built-in glossary's statement titles


@pytest.mark.parametrize(("opening", "statement"), [
    ("JOHNSON\xa0& JOHNSON AND SUBSIDIARIES\nCONSOLIDATED BALANCE SHEETS\nAt January\xa01, 2023", "balance sheet"),
    ("Amcor plc and Subsidiaries Consolidated Statements of Income ($ in millions, except per share data)\nFor the",
     "income statement"),
    ("Table of Contents\nThe Boeing Company and Subsidiaries\nConsolidated Statements of Financial Position\n",
     "balance sheet"),
    ("PART I — FINANCIAL INFORMATION\nItem 1. Financial Statements\nCondensed Consolidated Statements of Cash Flows\n"
     "$ in millions (unaudited)", "cash flow statement"),
    ("Exhibit 1\nUlta Beauty, Inc. Consolidated Statements of Income (In thousands, except per share data)",
     "income statement"),
    # a title inside a sentence, after a preposition, or among the titles of an index: no statement page
    ("Table of Contents\nReport of Independent Registered Public Accounting Firm To the Board of Directors. We have "
     "audited the accompanying consolidated balance sheets of the Company", None),
    ("ANALYSIS OF THE CONSOLIDATED STATEMENTS OF INCOME\nRevenues by Geography", None),
    ("Table of Contents\nINDEX TO CONSOLIDATED FINANCIAL STATEMENTS\nConsolidated Statements of Income 93\n"
     "Consolidated Statements of Comprehensive Income 94", None),
    ("Table of Contents\nCash Flows: Cash flows from operating, investing and financing activities are provided", None),
    ("Deferred taxes are presented in the consolidated balance sheets as follows:", None),
])
def test_a_statement_page_opens_with_its_title(opening: str, statement: str | None) -> None:
    assert statement_title(opening, STATEMENTS) == statement


def test_a_statement_is_its_first_run_of_pages() -> None:
    from typing import NamedTuple

    class Opening(NamedTuple):
        id: str
        page: int
        opening: str

    openings = {
        2: "Table of Contents\nItem 7. Management's Discussion\nOur consolidated balance sheets show",
        48: "3M Company and Subsidiaries\nConsolidated Statement of Income\nYears ended December 31",
        50: "3M Company and Subsidiaries\nConsolidated Balance Sheet\nAt December 31",
        52: "3M Company and Subsidiaries\nConsolidated Statement of Cash Flows\nYears ended December 31",
        53: "3M Company and Subsidiaries\nConsolidated Statement of Cash Flows (continued)\n",
        105: "Deed of Cross Guarantee Consolidated Statements of Income\n($ in millions)",  # a group's own, later
    }
    pages = [Opening(f"p{n}", n, text) for n, text in sorted(openings.items())]
    found = {name: [p.page for p in run] for name, run in statement_pages(pages, STATEMENTS).items()}
    assert found == {"income statement": [48], "balance sheet": [50], "cash flow statement": [52, 53]}
