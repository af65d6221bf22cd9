"""References a question makes to where its answer is: "page 14", "slide 5", "Figure 3", "Table 2", "the cover",
"page twelve", "the fifth slide", "the penultimate page", "the slide after slide 5", "page iv", "the appendix".

`find_references` only reads the text; the query pipeline looks the references up in the element store (physical
page numbers and printed page labels alike, figure/table caption labels, the pages an appendix spans) and ranks what
they name. A false reference costs more than a missed one (the reference ranking outweighs any channel's rank 1), so
every form needs a page word or a fixed phrase next to its number: "the first quarter", "five pages of notes",
"second-largest", "last year" and "one page summary" name no page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Protocol

# kind: "page" (a number or printed label), "figure" / "table" (a caption number), "first" (the value-th page,
# counted from the start: "1" the cover), "last" (counted from the end: "-1" the last page, "-2" the one before),
# "appendix" (the pages of the appendix; value "" for all of it or its letter/number, "b"), "heading" (the first
# page that opens with the quoted title; only as the neighbour named by "the slide after 'Breakout Rooms'"),
# "section" (the pages of a part, chapter, item or named section: "Part II", "Item 7A", "the Risk Factors section";
# value "part 2" / "item 7a" for a numbered one, the name's words otherwise), "section_start" / "section_end" (its
# first / last page: "where does Part II begin").
KINDS = ("page", "figure", "table", "first", "last", "appendix", "heading", "section", "section_start", "section_end")
SECTION_KINDS = ("section", "section_start", "section_end")

_PAGE_WORD = r"(?:page|slide|sheet)"
# "page" as a modifier names no page: "first page views", "the last slide deck", "front page headlines"
_PAGE_NOUN = (rf"{_PAGE_WORD}\b(?!\s+(?:views?|visits?|hits?|loads?|counts?|limits?|layouts?|rank\w*|breaks?|designs?|"
              r"decks?|headlines?|ads?|impressions?|traffic|templates?)\b)")
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORD_UNITS = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
              "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth").split()
_ORD_TENS = "twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split()
_WORD_VALUE = {w: i for i, w in enumerate(_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_ORD_VALUE = {w: i for i, w in enumerate(_ORD_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_ORD_TENS)}


def _alt(words: list[str]) -> str:
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"  # longest first: "seventeen" before "seven"


_DIGIT = _alt(_UNITS[1:10])
_SMALL = _alt(_UNITS[1:])
_TENS_RE = _alt(_TENS)
_BELOW_100 = rf"(?:{_TENS_RE}(?:[-\s]{_DIGIT})?|{_SMALL})"
_NUMBER_WORDS = rf"(?:{_DIGIT}\s+hundred(?:\s+(?:and\s+)?{_BELOW_100})?|{_BELOW_100})"
_ORD_DIGIT = _alt(_ORD_UNITS[1:10])
_ORDINAL_WORDS = rf"(?:{_TENS_RE}[-\s]{_ORD_DIGIT}|{_alt(_ORD_TENS)}|{_alt(_ORD_UNITS[1:])})"
_ORDINAL = rf"(?:{_ORDINAL_WORDS}|\d{{1,4}}(?:st|nd|rd|th))"
_ROMAN = re.compile(r"^(?=[ivxlc])c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")

# what follows a number that is a quantity, not a page: "slide 5%", "slides five points", "page two-thirds"
_NOT_A_PAGE_NUMBER = (r"(?![-\w%])(?!\s*(?:%|percent|per\s*cent|points?|pts|bps|basis|times|days?|weeks?|months?|"
                      r"years?|quarters?|notches|places)\b)")
# "the first page of the table" names a page of a part, not of the document
_PART_OF = re.compile(
    r"\s+of\s+(?:the\s+|its\s+|this\s+|that\s+|each\s+)?(?:[\w-]+\s+){0,3}?(?:tables?|statements?|sections?|chapters?|"
    r"appendix|appendices|annex|parts?|lists?|schedules?|notes?|exhibits?|agenda|articles?|glossary|index|items?|"
    r"contents|bibliography|references|letters?|forms?|proxy|supplement)\b", re.I)

_PAGE = re.compile(r"\b(?:on\s+|at\s+)?(?:page|pg\.?|p\.)\s*(?:number\s+|no\.\s*|#\s*)?(\d{1,4}|[ivxlc]{1,7})\b"
                   r"(?![-/.]\d)" + _NOT_A_PAGE_NUMBER, re.I)
_SLIDE = re.compile(r"\bslide\s*(?:number\s+|no\.\s*|#\s*)?(\d{1,4})\b(?![-/.]\d)" + _NOT_A_PAGE_NUMBER, re.I)
_PAGE_IN_WORDS = re.compile(rf"\b(?:page|slide)\s+(?:number\s+)?((?>{_NUMBER_WORDS}))\b" + _NOT_A_PAGE_NUMBER, re.I)
_LABELLED = re.compile(r"\b(fig(?:ure)?s?\.?|tables?|exhibits?)\s*#?\s*(\d{1,3}(?:\.\d{1,2})?[a-z]?)\b", re.I)
_DET = r"\b(?:the|its|their|this|that|his|her|our|your)\s+(?:very\s+)?"
_NTH = re.compile(rf"{_DET}({_ORDINAL})\s+{_PAGE_NOUN}", re.I)
_FIRST = re.compile(rf"\b(?:cover|front|first|title|opening)\s+{_PAGE_NOUN}|\bfront\s+cover\b|"
                    r"\b(?:the|its|their|this|a|an)\s+(?:\w+(?:'s|’s)\s+)?cover\b"
                    r"(?!\s+(?:ratio|letter|charge|pool|story|price|rate|note|the|a|all|costs?|losses|expenses)\b)",
                    re.I)
_INSIDE_FRONT = re.compile(r"\binside\s+(?:front\s+)?cover\b", re.I)
_INSIDE_BACK = re.compile(r"\binside\s+back\s+cover\b", re.I)
_LAST = re.compile(rf"\b(?:last|final|back|closing|concluding)\s+{_PAGE_NOUN}|\bback\s+cover\b", re.I)
# positions from the end: "the penultimate slide", "the second to last page", "the last but one page",
# "the last page but one", "the third page from the end", "the second from last slide", "the third-last page"
_FROM_END = [
    (re.compile(rf"\b(?:the\s+|its\s+)?(?:very\s+)?penultimate\s+{_PAGE_NOUN}", re.I), lambda m: 2),
    (re.compile(rf"\b(?:the\s+|its\s+)?antepenultimate\s+{_PAGE_NOUN}", re.I), lambda m: 3),
    (re.compile(rf"\b(?:next|one)[-\s]to[-\s](?:the[-\s])?last\s+{_PAGE_NOUN}", re.I), lambda m: 2),
    (re.compile(rf"\b({_ORDINAL})[-\s](?:to[-\s]|from[-\s](?:the[-\s])?)?last\s+{_PAGE_NOUN}", re.I),
     lambda m: ordinal_value(m.group(1))),
    (re.compile(rf"\blast[-\s]but[-\s]({_SMALL}|\d)\s+{_PAGE_NOUN}", re.I), lambda m: number_value(m.group(1)) + 1),
    (re.compile(rf"\blast\s+{_PAGE_WORD}\s+but\s+({_SMALL}|\d)\b", re.I), lambda m: number_value(m.group(1)) + 1),
    (re.compile(rf"{_DET}({_ORDINAL})\s+{_PAGE_WORD}\s+(?:from|before)\s+(?:the\s+)?(?:end|back|last)\b", re.I),
     lambda m: ordinal_value(m.group(1))),
]
_APPENDIX = re.compile(r"\b(?:appendix|appendices|annex(?:es|e)?)\b(?:\s+([A-Z]|\d{1,2}|[IVX]{1,4})\b)?", re.I)
# "the slide after slide 5", "the page before the appendix", "what slide immediately follows the 'X' divider"
_NEIGHBOUR = re.compile(
    rf"\b(?:the\s+)?(?:(?:very\s+)?(?:first|next|previous)\s+)?{_PAGE_WORD}\s+(?:that\s+|which\s+)?(?:comes?\s+)?"
    r"(?:immediately\s+|right\s+|directly\s+|just\s+)?(after|following|follows|before|preceding|precedes|ahead\s+of)"
    r"\s+", re.I)
_QUOTED = re.compile(r"(?:the\s+)?['\"‘“]([^'\"‘’“”]{2,80}?)['\"’”](?:\s+(?:slide|page|divider|section|heading|"
                     r"title|chapter|part))?", re.I)


# "Part II", "Item 7A", "Chapter 3", "Section 2.1", "Note 7": a numbered part of the document (a quantity such as
# "part 2%" or "note 5 days" is none)
_SECTION_WORDS = ("part", "chapter", "item", "section", "note")
_NUMBERED_SECTION = re.compile(r"\b(part|chapter|item|section|note)\s+(?:no\.\s*|#\s*)?"
                               r"([ivxlc]{1,6}|\d{1,2}(?:\.\d{1,2}){0,2}[a-z]?)\b(?![-/.]\d)"
                               + _NOT_A_PAGE_NUMBER, re.I)
# "the Risk Factors section", "the 'Liquidity' chapter", "the case studies section"
_NAMED_SECTION = re.compile(r"\bthe\s+(?:['\"‘“]([^'\"‘’“”]{2,80})['\"’”]|((?:(?!the\b)[\w&’'+-]+\s+){0,5}?[\w&’'+-]+))"
                            r"\s+(?:section|chapter)\b(?![-\w])", re.I)
# "the section titled 'Liquidity'", "the chapter on methodology"
_SECTION_TITLED = re.compile(r"\b(?:section|chapter)\s+(?:titled|entitled|called|named|headed|on|about)\s+(?:['\"‘“]"
                             r"([^'\"‘’“”]{2,80})['\"’”]|((?:[\w&’'+-]+\s+){0,5}?[\w&’'+-]+)(?=\s*[?.,;:!]|"
                             r"\s+(?:of|in|and|to|is|does|do|begins?|starts?|ends?|says?|describes?|mentions?|lists?)\b|"
                             r"\s*$))", re.I)
# words that make "the X section" name no section of its own: "the first section", "this section", "the cross section"
_NOT_A_SECTION_NAME = frozenset(
    "a an the this that these those its their our your same next previous following preceding last first second "
    "third fourth fifth final main other another each every whole entire relevant above below current new old "
    "opening closing earlier later cross which what whose one two three any some".split())
_STARTS = re.compile(r"^\s+(?:\w+\s+){0,2}?(?:begin|begins|start|starts|open|opens)\b|"
                     r"^\s+(?:\w+\s+){0,2}?(?:first|opening)\s+page\b", re.I)
_ENDS = re.compile(r"^\s+(?:\w+\s+){0,2}?(?:end|ends|finish|finishes|conclude|concludes)\b", re.I)
_STARTS_BEFORE = re.compile(r"\b(?:(?:first|opening)\s+(?:page|slide)|start|beginning|opening)\s+of\s+(?:the\s+)?$",
                            re.I)
_ENDS_BEFORE = re.compile(r"\b(?:(?:last|final|closing)\s+(?:page|slide)|end|close)\s+of\s+(?:the\s+)?$", re.I)


@dataclass(frozen=True)
class Reference:
    """One reference: its kind, the value it names ("14", "iv", "3", "-2") and the words that named it.

    offset: +1 names the page after what kind/value names ("the slide after slide 5"), -1 the page before it.
    """

    kind: str
    value: str
    text: str
    offset: int = 0

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


def number_value(words: str) -> int:
    """A number written in digits or words ("twenty-one", "one hundred and five") as an int."""
    words = words.strip().lower()
    if words.isdigit():
        return int(words)
    total = 0
    for w in re.split(r"[-\s]+", words):
        if w == "hundred":
            total *= 100
        elif w in _WORD_VALUE:
            total += _WORD_VALUE[w]
    return total


def ordinal_value(word: str) -> int:
    """An ordinal ("fifth", "twenty-first", "21st") as an int."""
    word = word.strip().lower()
    if word[:1].isdigit():
        return int(re.sub(r"\D", "", word))
    *tens, last = re.split(r"[-\s]+", word)
    return sum(_WORD_VALUE.get(t, 0) for t in tens) + _ORD_VALUE.get(last, 0)


def find_references(query: str) -> list[Reference]:
    """Every reference in the query, in the order they appear, without repeats.

    Where two forms overlap ("the slide after slide 5", "the inside back cover") the longer one wins.
    """
    found = _neighbours(query) + _plain(query) + _sections(query)
    taken: list[tuple[int, int]] = []
    kept: list[tuple[int, Reference]] = []
    for start, end, ref in sorted(found, key=lambda f: (-(f[1] - f[0]), f[0])):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        kept.append((start, ref))
    out: list[Reference] = []
    for _, ref in sorted(kept, key=lambda f: f[0]):
        if all((r.kind, r.value, r.offset) != (ref.kind, ref.value, ref.offset) for r in out):
            out.append(ref)
    return out


def _plain(query: str) -> list[tuple[int, int, Reference]]:
    """References that name a page by itself (no neighbour): (start, end, reference) each."""
    found: list[tuple[int, int, Reference]] = []

    def add(m: re.Match[str], kind: str, value: str) -> None:
        if _PART_OF.match(query, m.end()) and kind in ("page", "first", "last"):
            return  # "the first page of the table": a page of a part
        found.append((m.start(), m.end(), Reference(kind, value, m.group(0).strip())))

    for m in _PAGE.finditer(query):
        value = m.group(1)
        if value.isdigit() or _roman_ok(value):
            add(m, "page", value.lower())
    for m in _SLIDE.finditer(query):
        add(m, "page", m.group(1))
    for m in _PAGE_IN_WORDS.finditer(query):
        n = number_value(m.group(1))
        if n > 0:
            add(m, "page", str(n))
    for m in _LABELLED.finditer(query):
        word = m.group(1).lower()
        kind = "table" if word.startswith("table") else "figure"  # exhibits number like figures
        found.append((m.start(), m.end(), Reference(kind, m.group(2).lower(), m.group(0).strip())))
    for m in _NTH.finditer(query):
        n = ordinal_value(m.group(1))
        if n > 0:
            add(m, "first", str(n))
    for m in _FIRST.finditer(query):
        add(m, "first", "1")
    for m in _INSIDE_FRONT.finditer(query):
        add(m, "first", "2")
    for m in _LAST.finditer(query):
        add(m, "last", "-1")
    for m in _INSIDE_BACK.finditer(query):
        add(m, "last", "-2")
    for pattern, position in _FROM_END:
        for m in pattern.finditer(query):
            n = position(m)
            if n > 0:
                add(m, "last", str(-n))
    for m in _APPENDIX.finditer(query):
        part = m.group(1) or ""
        if len(part) == 1 and part.isalpha() and not part.isupper():
            part = ""  # "the appendix a table ...": an article, not Appendix A
            end = m.start() + len(query[m.start():m.start(1)].rstrip())
        else:
            end = m.end()
        found.append((m.start(), end, Reference("appendix", part.lower(), query[m.start():end].strip())))
    return found


def _neighbours(query: str) -> list[tuple[int, int, Reference]]:
    """"the slide after slide 5", "the page before the appendix", "the slide that follows the 'X' divider"."""
    found: list[tuple[int, int, Reference]] = []
    for m in _NEIGHBOUR.finditer(query):
        offset = 1 if m.group(1).lower() in ("after", "following", "follows") else -1
        rest = query[m.end():]
        quoted = _QUOTED.match(rest)
        if quoted:
            end = m.end() + quoted.end()
            target = Reference("heading", quoted.group(1).strip().lower(), "")
        else:
            named = [f for f in _plain(rest) if f[0] <= 4 and rest[:f[0]].strip().lower() in ("", "the")]
            named = [f for f in named if f[2].kind in ("page", "first", "last", "appendix")]
            if not named:
                continue
            start, stop, target = min(named, key=lambda f: f[0])
            end = m.end() + stop
        text = query[m.start():end].strip()
        found.append((m.start(), end, Reference(target.kind, target.value, text, offset)))
    return found


def _sections(query: str) -> list[tuple[int, int, Reference]]:
    """"Part II", "Item 7A", "the Risk Factors section", "the section titled 'Liquidity'"; "where does Part II
    begin", "the last page of the Risk Factors section" name its first / last page."""
    found: list[tuple[int, int, Reference]] = []
    for m in _NUMBERED_SECTION.finditer(query):
        word, number = m.group(1).lower(), m.group(2).lower()
        if not number[:1].isdigit() and not (_roman_ok(m.group(2)) or (word == "part" and m.group(2) == "I")):
            continue
        found.append((m.start(), m.end(), _section_reference(query, m, f"{word} {section_number(number)}")))
    for pattern in (_NAMED_SECTION, _SECTION_TITLED):
        for m in pattern.finditer(query):
            name = m.group(1) or m.group(2)
            words = section_words(name)
            if words and not set(words) <= _NOT_A_SECTION_NAME and not _NUMBERED_SECTION.match(name):
                found.append((m.start(), m.end(), _section_reference(query, m, " ".join(words))))
    return found


def _section_reference(query: str, m: re.Match[str], value: str) -> Reference:
    after, before = query[m.end():m.end() + 40], query[max(0, m.start() - 30):m.start()]
    kind = "section"
    if _STARTS.match(after) or _STARTS_BEFORE.search(before):
        kind = "section_start"
    elif _ENDS.match(after) or _ENDS_BEFORE.search(before):
        kind = "section_end"
    return Reference(kind, value, m.group(0).strip())


def section_number(number: str) -> str:
    """A section's number as written in titles and questions alike: roman numerals as digits ("ii" -> "2")."""
    number = number.lower()
    if number and _ROMAN.match(number):
        values = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
        total = 0
        for a, b in zip(number, number[1:] + " "):
            total += -values[a] if values.get(b, 0) > values[a] else values[a]
        return str(total)
    return number


def section_words(text: str) -> list[str]:
    """The words of a section name, lowercase, without punctuation or plural "s" ("Risk Factors" -> risk, factor)."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("’", "'").replace("'s", ""))
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def numbered_section(title: str) -> str | None:
    """The "part 2" / "item 7a" key of a title that opens with a numbered part ("PART II", "Item 7A. Controls")."""
    m = _NUMBERED_SECTION.match(" ".join(title.split()))
    return f"{m.group(1).lower()} {section_number(m.group(2))}" if m else None


def section_matches(value: str, title: str) -> float:
    """How well a section title answers a section reference's value: 0 not at all; else the share of the
    title's words the reference names (1.0: the title is just that name)."""
    if value.split(" ")[0] in _SECTION_WORDS and len(value.split(" ")) == 2 and any(c.isdigit() for c in value):
        return 1.0 if numbered_section(title) == value else 0.0
    words, title_words = value.split(" "), section_words(title)
    if not title_words or not set(words) <= set(title_words):
        return 0.0
    return len(words) / len(title_words)


def _roman_ok(value: str) -> bool:
    """A roman page number: valid, and not the pronoun "I" ("the page I read"; "page i" and "page IV" pass)."""
    if value.isupper() and len(value) == 1:
        return False
    return bool(_ROMAN.match(value.lower()))


# What the store reads of a page element's text to resolve references without reading whole pages: its opening
# (an appendix's or a slide's title) and its ends (a printed folio: "iv", "12", "Page 12 of 80", "Report | 12").
OPENING_CHARS = 300
FOLIO_CHARS = 120
FOLIO_BEFORE, FOLIO_AFTER = 5, 40  # printed page n is looked for on physical pages n-5 .. n+40 (roman: 1 .. 40)
OPENING_LINES = 4  # an appendix title or a quoted heading counts among a page's first lines
_APPENDIX_TITLE = re.compile(r"^(?:appendix|appendices|annex(?:es|e)?)\b\s*([a-z]|\d{1,2}|[ivx]{1,4})?\b", re.I)
_TOC_LINE = re.compile(r"(?:\.\s?){3,}|\s{2,}\d+$|\t")


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def appendix_start(opening: str) -> str | None:
    """Whether a page with this opening text starts an appendix: None if not, else its letter or number ("" none).

    One of the first lines must open with "Appendix" / "Annex" and read like a title (short, no contents leader).
    """
    if "append" not in opening.lower() and "annex" not in opening.lower():
        return None
    for line in _lines(opening)[:OPENING_LINES]:
        m = _APPENDIX_TITLE.match(line)
        if m and len(line) <= 100 and not _TOC_LINE.search(line) and not line.endswith("."):
            part = m.group(1) or ""
            return part.lower() if part.isdigit() or part.isupper() else ""
    return None


def opens_with(opening: str, title: str) -> bool:
    """Whether one of the first lines of a page's text holds `title` (a quoted slide or section title)."""
    title = " ".join(title.lower().split())
    if title.split(" ")[0] not in opening.lower():
        return False
    return any(title in " ".join(line.lower().split()) for line in _lines(opening)[:OPENING_LINES])


def names_folio(opening: str, ending: str, value: str) -> bool:
    """Whether the first two lines or the last line of a page's text print page number `value`: the line is the
    number, "Page 12", "12 of 80", "- 12 -", or the number at either end of a running line with a "|"
    ("Report | 12"). (Not deeper: a chart's axis values and a list's step numbers sit there too.)"""
    if value.lower() not in opening.lower() and value.lower() not in ending.lower():
        return False
    v = re.escape(value.lower())
    alone = re.compile(rf"^(?:page\s+|p\.\s*|-\s*)?{v}(?:\s*-|\s+of\s+\d+|\s*/\s*\d+)?$")
    running = re.compile(rf"^{v}\s+\S.*\|.*|.*\|.*\S\s+{v}$")
    candidates = _lines(opening)[:2] + _lines(ending)[-1:]
    return any(alone.match(ln.lower()) or (len(ln) <= 120 and running.match(ln.lower())) for ln in candidates)


# A statement's title opens its page, after at most a header of capitalised words ("JOHNSON & JOHNSON AND
# SUBSIDIARIES", "Table of Contents", "Amcor plc and Subsidiaries", "Exhibit 1 Ulta Beauty, Inc."); a title inside a
# sentence ("we have audited the accompanying consolidated balance sheets") or after a preposition ("Analysis of the
# Consolidated Statements of Income", "Notes to Consolidated Balance Sheets") is not one.
_TITLE_HEADER = r"^(?P<header>(?:(?:[A-Z0-9&][\w.,&'’()—–-]*|[a-z]{1,3}\.?)\s+){0,12}?)"
_NOT_BEFORE_A_TITLE = frozenset("of the to in on for from with by and or our its their this these".split())


class PageOpening(Protocol):
    """What `statement_pages` reads of a page (the store's page openings)."""

    @property
    def id(self) -> str: ...
    @property
    def page(self) -> int: ...
    @property
    def opening(self) -> str: ...


@lru_cache(maxsize=64)
def _title_at_start(pattern: str) -> re.Pattern[str]:
    return re.compile(_TITLE_HEADER + rf"(?i:{pattern})\b")


@lru_cache(maxsize=16)
def _any_title(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + ")", re.I)  # \b: half the time


def statement_title(opening: str, titles: Mapping[str, re.Pattern[str]]) -> str | None:
    """The statement (a name of `titles`, each name's title pattern) whose title one of a page's first lines opens
    with, or None: no title, a title inside a sentence, or titles of several statements (an index of them)."""
    flat = " ".join(opening.split())
    if not _any_title(tuple(t.pattern for t in titles.values())).search(flat):
        return None  # most pages: one scan
    named = [name for name, t in titles.items() if t.search(flat)]
    if len(named) != 1:
        return None
    at_start = _title_at_start(titles[named[0]].pattern)
    for line in _lines(opening)[:OPENING_LINES]:
        m = at_start.search(" ".join(line.split()))
        if m and (not m["header"] or m["header"].split()[-1].lower() not in _NOT_BEFORE_A_TITLE):
            return named[0]
    return None


def statement_pages(
    pages: Sequence[PageOpening], titles: Mapping[str, re.Pattern[str]]
) -> dict[str, list[PageOpening]]:
    """Statement name -> its pages in one document (`pages` in page order): the first run of pages that open with
    its title (a statement continued over pages); a later run (a parent company's or a guarantor group's own
    statements, further on in the notes) is left out."""
    found: dict[str, list[PageOpening]] = {}
    last: dict[str, int] = {}
    for p in pages:
        name = statement_title(p.opening, titles)
        if name is None or (name in last and last[name] != p.page - 1):
            continue
        found.setdefault(name, []).append(p)
        last[name] = p.page
    return found
