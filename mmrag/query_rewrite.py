"""What the channels search for: the question without its answer instructions, plus glossary terms.

Questions carry words for whoever answers them ("If gross margin is not a useful metric for a company like this,
then state that and explain why.", "Answer in USD millions."): those words are on no evidence page and only dilute
the query, so trailing instruction sentences are left out of what the channels embed. Questions also name things
in other words than the pages that answer them: an analyst asks for the "quick ratio", the balance sheet prints
"Total current assets" and "Total current liabilities". A glossary (config as data: a TOML file of regular
expressions and the words to add) bridges the two: on the lexical side an added word can match a line item exactly,
and on the dense side (`query.glossary_dense`) the added words move the question's vector toward the statement that
prints them (a quick ratio toward the balance sheet, not the cash flow statement beside it, which also names
receivables and inventories). Built-in glossaries live in `mmrag/glossaries/` (`list_glossaries()`);
`query.glossary` names one or a TOML file of the same form, "" for none.

A glossary can also name the statements a term is read from (`statements`: "balance sheet", "income statement"):
a quick ratio is computed from the balance sheet, an inventory turnover from the balance sheet and the income
statement. `[[statement]]` tables give each statement's name and the title its pages open with; the query pipeline
ranks the pages that open with the title of a statement the question implies (`query.statement_weight`), so a
question that needs a statement's figures reaches the statement itself rather than the notes and discussion that
repeat its words. `no_statement` patterns (adjusted, non-GAAP measures: reconciled outside the statements) imply
none.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mmrag.errors import SettingsError

GLOSSARY_DIR = Path(__file__).with_name("glossaries")

# A trailing sentence that tells the answerer what to do rather than asking for evidence.
_INSTRUCTIONS = re.compile(
    r"""(?:^|(?<=[.?!;])\s+)(?:
          if\b[^.?!]*\b(?:not|n't|no)\b[^?!]*              # "If X is not a useful metric ..., then state that ..."
        | (?:please\s+)?(?:answer|respond|reply)\s+(?:in|with|as|using)\b[^.?!]*   # "Answer in USD millions."
        | (?:please\s+)?round\b[^.?!]*\bto\b[^.?!]*         # "Round your answer to two decimals."
        | please\s+(?:state|explain|show|provide|give|list)\b[^.?!]*
        )\.?\s*$""",
    re.I | re.X | re.S,
)


@dataclass(frozen=True)
class GlossaryTerm:
    patterns: tuple[re.Pattern[str], ...]
    add: str
    statements: tuple[str, ...] = ()  # names of the statements (`Glossary.statements`) the term is read from

    def matches(self, text: str) -> str | None:
        """The phrase of `text` that matched, or None."""
        for p in self.patterns:
            m = p.search(text)
            if m:
                return m.group(0)
        return None


@dataclass(frozen=True)
class Glossary:
    name: str
    terms: tuple[GlossaryTerm, ...]
    # statement name -> the title its pages open with ("balance sheet" -> "consolidated balance sheets"; a pattern)
    statements: dict[str, re.Pattern[str]] = field(default_factory=dict)
    no_statement: tuple[re.Pattern[str], ...] = ()  # questions that imply no statement (adjusted, non-GAAP)

    def expand(self, text: str) -> tuple[list[str], str]:
        """(phrases recognised in `text`, the words their terms add), each term once."""
        found, words = [], []
        for term in self.terms:
            phrase = term.matches(text)
            if phrase is not None:
                found.append(phrase)
                if term.add:
                    words.append(term.add)
        return found, " ".join(words)

    def implied_statements(self, text: str) -> tuple[str, ...]:
        """The statements `text` asks about, by name, in glossary order: those of every term it matches, none when
        a `no_statement` pattern matches."""
        if any(p.search(text) for p in self.no_statement):
            return ()
        named = {name for term in self.terms if term.statements and term.matches(text) is not None
                 for name in term.statements}
        return tuple(name for name in self.statements if name in named)


@dataclass(frozen=True)
class RewrittenQuery:
    """A question as the channels see it: `text` for every channel, `lexical_terms` added to BM25 and
    `dense_terms` to a text embedding's query (a glossary's words; not to an image channel's)."""

    original: str
    text: str
    lexical_terms: str = ""
    glossary_matches: tuple[str, ...] = ()
    dropped: str = ""  # the instruction sentences left out
    dense_terms: str = ""
    statements: tuple[str, ...] = ()  # the statements the question implies ("balance sheet"; `Glossary.statements`)

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "dropped": self.dropped, "glossary": list(self.glossary_matches),
                "lexical_terms": self.lexical_terms, "dense_terms": self.dense_terms,
                "statements": list(self.statements)}


def strip_instructions(question: str) -> tuple[str, str]:
    """(the question without trailing answer instructions, what was dropped); never drops everything."""
    kept, dropped = question.strip(), []
    while True:
        m = _INSTRUCTIONS.search(kept)
        if not m or not kept[: m.start()].strip():
            break
        dropped.insert(0, kept[m.start():].strip())
        kept = kept[: m.start()].rstrip()
    return kept, " ".join(dropped)


def rewrite_query(
    question: str, glossary: Glossary | None = None, instructions: bool = True, dense: bool = False,
) -> RewrittenQuery:
    """The question for the channels: instructions left out (when `instructions`), glossary words for BM25 and,
    when `dense`, for the text embedding too."""
    text, dropped = strip_instructions(question) if instructions else (question, "")
    if glossary is None:
        return RewrittenQuery(question, text, dropped=dropped)
    found, words = glossary.expand(text)
    return RewrittenQuery(question, text, words, tuple(found), dropped, words if dense else "",
                          glossary.implied_statements(text))


def list_glossaries() -> list[str]:
    """Names of the built-in glossaries (`query.glossary = "<name>"`)."""
    return sorted(p.stem for p in GLOSSARY_DIR.glob("*.toml"))


@lru_cache(maxsize=16)
def load_glossary(spec: str | None) -> Glossary | None:
    """A built-in glossary by name, or a TOML file by path; None for "" / None.

    File form: `[[term]]` tables, each with `match` (a list of case-insensitive regular expressions) and `add`
    (the words to add), optionally `statements` (names of `[[statement]]` tables; `add` may then be left out);
    `[[statement]]` tables, each with `name` and `title` (a pattern for the title its pages open with); and
    `no_statement` (patterns of questions that imply no statement). A bad file or pattern is a SettingsError
    naming it.
    """
    if not spec:
        return None
    path = GLOSSARY_DIR / f"{spec}.toml" if spec in list_glossaries() else Path(spec).expanduser()
    if not path.is_file():
        raise SettingsError(f"query.glossary {spec!r}: not a built-in glossary ({', '.join(list_glossaries())}) "
                          "nor a TOML file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        statements: dict[str, re.Pattern[str]] = {}
        for i, st in enumerate(data.get("statement", [])):
            name, title = st.get("name"), st.get("title")
            if not isinstance(name, str) or not name or not isinstance(title, str) or not title:
                raise ValueError(f"statement {i + 1} needs `name` and `title` (a pattern)")
            statements[name] = re.compile(title, re.I)
        terms = []
        for i, t in enumerate(data.get("term", [])):
            match, named = t.get("match"), t.get("statements", [])
            add = t.get("add", "" if named else None)
            if isinstance(match, str):
                match = [match]
            if not match or not isinstance(add, str) or not all(isinstance(m, str) for m in match):
                raise ValueError(f"term {i + 1} needs `match` (list of patterns) and `add` (text)")
            if not isinstance(named, list) or any(n not in statements for n in named):
                raise ValueError(f"term {i + 1}: `statements` must name [[statement]] tables "
                                 f"({', '.join(statements) or 'none defined'})")
            terms.append(GlossaryTerm(tuple(re.compile(m, re.I) for m in match), add, tuple(named)))
        exempt = data.get("no_statement", [])
        if isinstance(exempt, str):
            exempt = [exempt]
        if not isinstance(exempt, list) or not all(isinstance(m, str) for m in exempt):
            raise ValueError("`no_statement` must be a list of patterns")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, re.error) as e:
        raise SettingsError(f"query.glossary {path}: {e}") from None
    return Glossary(path.stem, tuple(terms), statements, tuple(re.compile(m, re.I) for m in exempt))
