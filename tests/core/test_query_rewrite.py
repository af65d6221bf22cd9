"""Query rewriting: answer instructions left out, glossary terms for the lexical side, glossary files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrag.errors import SettingsError
from mmrag.query_rewrite import list_glossaries, load_glossary, rewrite_query, strip_instructions


@pytest.mark.parametrize(("question", "kept", "dropped"), [
    ("Does Boeing have an improving gross margin profile as of FY2022? If gross margin is not a useful metric for "
     "a company like this, then state that and explain why.",
     "Does Boeing have an improving gross margin profile as of FY2022?", "If gross margin is not a useful metric"),
    ("What was revenue in 2022? Answer in USD millions.", "What was revenue in 2022?", "Answer in USD millions."),
    ("What is the ratio? Round your answer to two decimal places.", "What is the ratio?", "Round your answer"),
    ("What are the main risks? Please explain briefly.", "What are the main risks?", "Please explain briefly."),
])
def test_trailing_answer_instructions_are_left_out(question: str, kept: str, dropped: str) -> None:
    text, out = strip_instructions(question)
    assert text == kept
    assert out.startswith(dropped)


@pytest.mark.parametrize("question", [
    "If the company is not profitable, how much cash does it hold?",  # the only sentence: never dropped
    "Did sales grow in 2022? If not, which segment declined?",  # a question, not an instruction
    "How many stores opened in Q2?",
])
def test_questions_are_kept_whole(question: str) -> None:
    assert strip_instructions(question) == (question, "")


def test_finance_glossary_adds_line_items_for_analysts_words() -> None:
    assert "finance" in list_glossaries()
    q = rewrite_query("Has AMCOR's quick ratio improved since FY2022?", load_glossary("finance"))
    assert q.glossary_matches == ("quick ratio",)
    assert "total current liabilities" in q.lexical_terms
    assert q.text == "Has AMCOR's quick ratio improved since FY2022?"  # the dense side sees the question only
    plain = rewrite_query("What is the battery storage capacity of the solar project?", load_glossary("finance"))
    assert plain.lexical_terms == "" and plain.glossary_matches == ()
    assert rewrite_query("What is the quick ratio?", None).lexical_terms == ""


def test_glossary_words_join_the_dense_query_only_when_asked() -> None:
    finance = load_glossary("finance")
    lexical_only = rewrite_query("Has AMCOR's quick ratio improved since FY2022?", finance)
    both = rewrite_query("Has AMCOR's quick ratio improved since FY2022?", finance, dense=True)
    assert lexical_only.dense_terms == ""
    assert both.dense_terms == both.lexical_terms and "total current assets" in both.dense_terms
    assert both.text == lexical_only.text  # the question itself is unchanged; channels add the terms
    assert rewrite_query("What is the battery storage capacity?", finance, dense=True).dense_terms == ""
    assert both.to_dict()["dense_terms"] == both.dense_terms


def test_glossary_file_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "transit.toml"
    good.write_text('[[term]]\nmatch = ["\\\\bcommuters?\\\\b"]\nadd = "weekday ridership"\n')
    g = load_glossary(str(good))
    assert g is not None and g.name == "transit"
    assert g.expand("How many Commuters rode?") == (["Commuters"], "weekday ridership")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[term]]\nmatch = ["(unclosed"]\nadd = "x"\n')
    with pytest.raises(SettingsError, match="bad.toml"):
        load_glossary(str(bad))
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match="not a built-in glossary"):
        load_glossary(str(missing))
    assert load_glossary("") is None


@pytest.mark.parametrize(("question", "statements"), [
    ("Is 3M a capital-intensive business based on FY2022 data?", ("balance sheet", "cash flow statement")),
    ("Roughly how many times has JnJ sold its inventory in FY2022?", ("balance sheet", "income statement")),
    ("What was the largest liability in American Express's Balance Sheet in 2022?", ("balance sheet",)),
    ("What is the FY2022 unadjusted EBITDA less capex for PepsiCo?",
     ("balance sheet", "income statement", "cash flow statement")),
    ("What Was AMCOR's Adjusted Non GAAP EBITDA for FY 2023", ()),  # reconciled outside the statements
    ("Is growth in JnJ's adjusted EPS expected to accelerate?", ()),
    ("Which region had the worst topline performance?", ()),
])
def test_finance_glossary_names_the_statements_a_question_needs(question: str, statements: tuple[str, ...]) -> None:
    q = rewrite_query(question, load_glossary("finance"))
    assert q.statements == statements and q.to_dict()["statements"] == list(statements)


def test_glossary_statements_and_their_errors(tmp_path: Path) -> None:
    good = tmp_path / "ops.toml"
    good.write_text("no_statement = ['\\bplanned\\b']\n"
                    '[[statement]]\nname = "roster"\ntitle = "crew roster"\n'
                    '[[term]]\nmatch = ["who (?:flew|crewed)"]\nstatements = ["roster"]\n')  # no `add`: fine
    g = load_glossary(str(good))
    assert g is not None and list(g.statements) == ["roster"] and g.statements["roster"].search("CREW ROSTER")
    assert rewrite_query("Who flew mission 3?", g).statements == ("roster",)
    assert rewrite_query("Who flew mission 3?", g).lexical_terms == ""  # a term with no words adds none
    assert rewrite_query("Who flew the planned mission?", g).statements == ()
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[term]]\nmatch = ["x"]\nadd = "y"\nstatements = ["ledger"]\n')
    with pytest.raises(SettingsError, match="must name"):
        load_glossary(str(unknown))
    untitled = tmp_path / "untitled.toml"
    untitled.write_text('[[statement]]\nname = "ledger"\n')
    with pytest.raises(SettingsError, match="needs `name` and `title`"):
        load_glossary(str(untitled))
