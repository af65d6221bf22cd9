from __future__ import annotations

import pytest

from mmrag.eval.answer_metrics import (
    anls,
    citation_accuracy,
    exact_match,
    levenshtein,
    normalize_answer,
    token_f1,
)


def test_normalize() -> None:
    assert normalize_answer("  The Cat, sat!  ") == "cat sat"
    assert normalize_answer("An apple a day") == "apple day"


def test_exact_match() -> None:
    assert exact_match("The Cat!", "cat") == 1.0
    assert exact_match("a cat", ["dog", "cat"]) == 1.0
    assert exact_match("cats", "cat") == 0.0


def test_token_f1() -> None:
    # pred {big, red, dog} vs ref {red, dog}: P = 2/3, R = 1 -> F1 = 0.8
    assert token_f1("the big red dog", "red dog") == pytest.approx(0.8)
    assert token_f1("blue", "red dog") == 0.0
    assert token_f1("red red dog", ["red dog", "x"]) == pytest.approx(0.8)  # P=2/3, R=1
    assert token_f1("", "") == 1.0


def test_anls() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert anls("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert anls("Hello ", "hello") == 1.0
    assert anls("abc", "xyz") == 0.0
    assert anls("ab", "ax") == 0.0  # NL = 0.5 reaches the threshold
    assert anls("abcd", "abcx") == pytest.approx(0.75)
    assert anls("abc", ["xyz", "abd"]) == pytest.approx(1 - 1 / 3)


def test_citation_accuracy() -> None:
    cited = [("a.pdf", 1), ("a.pdf", 1), ("a.pdf", 2)]
    assert citation_accuracy(cited, {("a.pdf", 1)}) == 0.5
    assert citation_accuracy([], {("a.pdf", 1)}) is None
    with pytest.raises(ValueError):
        exact_match("x", [])


def test_contains_answer_matches_whole_tokens_only() -> None:
    from mmrag.eval.answer_metrics import contains_answer

    assert contains_answer("Project: Redwood Gate; Storage (MWh): 1,240; Online: 2021", "1,240") == 1.0
    assert contains_answer("the total was 12400 units", "1,240") == 0.0
    assert contains_answer("Led by the Pacific region.", ["Southwest", "pacific"]) == 1.0
    assert contains_answer("anything", "") == 0.0
