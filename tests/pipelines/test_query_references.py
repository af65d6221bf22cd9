"""Pages named in words, by position and as a neighbour, searched on the sample corpus: the named page comes first,
and `search_result(...).references` says what the search acted on."""

from __future__ import annotations

import pytest

from mmrag.pipelines.index import MMIndex

DOC = ["solar_outlook_2024.pdf"]  # 6 pages; page 4 opens "3 Largest Projects"


@pytest.mark.parametrize(
    ("query", "page", "reference"),
    [
        ("What does the chart on page three show?", 3, ("page", "3", 0)),
        ("What is on the fourth page?", 4, ("first", "4", 0)),
        ("What is on the penultimate page?", 5, ("last", "-2", 0)),
        ("What is on the third page from the end?", 4, ("last", "-3", 0)),
        ("What is on the page after page 2?", 3, ("page", "2", 1)),
        ("What is on the page before the last page?", 5, ("last", "-1", -1)),
        ("What comes on the page after the '3 Largest Projects' section?", 5, ("heading", "3 largest projects", 1)),
    ],
)
def test_a_page_named_in_words_or_by_position_comes_first(
    sample_index: MMIndex, query: str, page: int, reference: tuple[str, str, int]
) -> None:
    result = sample_index.search_result(query, docs=DOC, k=5)
    assert (result.hits[0].element.doc, result.hits[0].element.page) == (DOC[0], page)
    assert "reference" in result.hits[0].channels
    assert [(r.kind, r.value, r.offset) for r in result.references] == [reference]


def test_words_that_name_no_page_add_no_reference(sample_index: MMIndex) -> None:
    result = sample_index.search_result("Which region had the second-largest capacity in the first quarter?",
                                        docs=DOC, k=5)
    assert result.references == [] and all("reference" not in h.channels for h in result.hits)


def test_a_named_page_that_does_not_exist_is_not_acted_on(sample_index: MMIndex) -> None:
    result = sample_index.search_result("What is on page forty?", docs=DOC, k=5)
    assert result.references == []
