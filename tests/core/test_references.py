"""References a question makes to its evidence: pages, slides, figures, tables, first/last page."""

from __future__ import annotations

import pytest

from mmrag.references import find_references


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
    ],
)
def test_references_found(query: str, expected: list[tuple[str, str]]) -> None:
    assert [(r.kind, r.value) for r in find_references(query)] == expected


@pytest.mark.parametrize(
    "query",
    ["What was revenue in 2022?", "How many page views per visit?", "What is the coverage ratio?",
     "Form 10-K page 10-3 data", "What is the tabled motion?"],
)
def test_no_reference_where_none_is_named(query: str) -> None:
    assert find_references(query) == []
