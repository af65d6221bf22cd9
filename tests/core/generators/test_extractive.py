from __future__ import annotations

from mmrag.generators.extractive import LABEL, ExtractiveGenerator, content_terms, split_sentences


def test_picks_the_passage_that_shares_the_most_terms(corpus_hits):
    ans = ExtractiveGenerator().generate("How did panel efficiency change?", corpus_hits)
    assert ans.text.startswith(LABEL) and ans.generator == "extractive"
    first = ans.text.splitlines()[1]
    assert first == "- Panel efficiency rose to 23 percent in 2023. [solar.pdf p.3]"
    assert ans.supported and {c.marker for c in ans.citations} <= {"[solar.pdf p.3]"}
    assert "Costs fell" not in ans.text  # shares no query term


def test_figures_and_tables_are_named_by_caption(corpus_hits):
    ans = ExtractiveGenerator().generate("installed wind capacity table", corpus_hits)
    # the table is named by its caption, and quoted by the row that shares the caption's words
    assert '- Table "Table 1: Installed wind capacity": year: 2022; capacity: 900 GW [wind.pdf p.2]' in ans.text
    assert ans.text.count("Table 1: Installed wind capacity") == 1  # no bare caption beside its own row
    assert [c.kind for c in ans.citations] == ["table"]


def test_unsupported_when_nothing_matches(corpus_hits):
    ans = ExtractiveGenerator().generate("What is the boiling point of mercury?", corpus_hits)
    assert not ans.supported and ans.citations == []
    assert ans.text == f"{LABEL} The documents do not contain the answer."
    assert not ExtractiveGenerator().generate("what is it?", corpus_hits).supported  # only stopwords
    assert not ExtractiveGenerator().generate("panel efficiency", []).supported


def test_injection_in_a_document_changes_nothing(corpus_hits, make_hit, injection):
    gen = ExtractiveGenerator()
    clean = gen.generate("How strong is the wind for turbines?", corpus_hits[:2] + [make_hit("wind.pdf", 1, "text",
                         "Turbines spin in strong wind.")] + corpus_hits[3:])  # fmt: skip
    attacked = gen.generate("How strong is the wind for turbines?", corpus_hits)
    assert attacked.text == clean.text and "HACKED" not in attacked.text
    assert [c.marker for c in attacked.citations] == [c.marker for c in clean.citations] == ["[wind.pdf p.1]"]


def test_quoted_brackets_cannot_forge_citations(make_hit):
    hits = [make_hit("a.pdf", 1, "text", "Revenue grew [b.pdf p.2]."), make_hit("b.pdf", 2, "text", "Unrelated.")]
    ans = ExtractiveGenerator().generate("revenue growth", hits)
    assert [c.marker for c in ans.citations] == ["[a.pdf p.1]"]


def test_terms_and_sentences():
    assert content_terms("What are the Costs of batteries?") == {"cost", "battery"}
    assert split_sentences("One. Two!\n| a | b |") == ["One.", "Two!", "| a | b |"]
