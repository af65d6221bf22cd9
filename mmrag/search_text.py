"""What the text channel reads of an element, beyond its stored text: tables as compact rows, run-together words
split apart.

Both are index-time views: the stored element (what a reader, the web page and the generator see) keeps its
Markdown table and its words as parsed.

- `compact_table`: a Markdown table from the parser spends most of its tokens on pipes, empty cells and lone "$"
  signs (a balance sheet's first 512 tokens held its first 25 rows of 60). One line per row, non-empty cells joined
  by " | ", with "$", "%" and ")" cells put back against their numbers, keeps every row's label and values in about
  half the tokens, so the rows at a statement's bottom ("Total liabilities") reach the dense encoder too.
  A table still longer than LABELS_FIRST_CHARS (about the encoder's budget for one element) reads its row labels
  first, then the rows' values: the dense vector then knows every line item the table holds ("Effective tax rate",
  row 18 of 25 in a 10-K's summary table), not just its first rows; BM25 reads the same words either way.
- `split_run_together`: letter-spaced headings ("c a s e s t u d i e s") are joined into words, and OCR of
  charts and slides, and some text layers, lose the spaces between words
  ("Coal-firedcapacityintheU.s.electricpowersector", "COMPUTINGFOUNDATION"); neither BM25 nor the encoder's
  word pieces match such a token. Long letter runs are split at case changes and by word frequencies (wordninja's
  English unigram list), and a split is kept only when its short pieces are common words, so names such as
  "Kubernetes" stay whole.
"""

from __future__ import annotations

import functools
import re

# What the text channel reads of an element, as a version in its vectors' fingerprint: an index embedded under
# another version is reported stale (`mmrag index --reembed`). 1: Markdown tables, words as parsed. 2: compact
# tables, run-together words split. 3: long tables' row labels first.
VERSION = 3
# A compact table longer than this reads its row labels before its values (element_tokens 384 of BGE small's word
# pieces: a financial table's rows take about 3 characters a token).
LABELS_FIRST_CHARS = 1200

_ROW = re.compile(r"^\s*\|.*\|\s*$")
_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_LABEL = re.compile(r"[A-Za-z]{2}")  # a row label has a word in it; an amount or a year does not
_STUCK = {"$", "%", ")", "%)", "€", "£", "¥"}  # cells that belong to the number beside them

# Letter runs at least this long are candidates for splitting (shorter ones are nearly always real words).
MIN_RUN = 12
_RUN = re.compile(rf"[A-Za-z]{{{MIN_RUN},}}")
# Headings set letter by letter ("r a t i o n a l e") extract as single letters between spaces.
_SPACED = re.compile(r"(?<![A-Za-z])(?:[A-Za-z] ){4,}[A-Za-z](?![A-Za-z])")
_CASE_BREAK = re.compile(r"(?<=[a-z])(?=[A-Z])")
# The short pieces a split may contain: a split into "Ku berne tes" is a name, not three words.
_SHORT_WORDS = frozenset(
    "a i an as at be by do if in is it of on or so to up us we and are but can for has how its new not one "
    "our out per the two use was who why all any end few key may non off own pre sub top via"
    .split()
)


def compact_table(markdown: str) -> str:
    """A Markdown table as one line per row: non-empty cells joined by " | ", without separator rows; lines that
    are not table rows pass through. Currency, percent and closing-parenthesis cells join the cell before them.
    Longer than LABELS_FIRST_CHARS, the rows' labels come first, on one line, and each row keeps its values."""
    lines: list[str] = []
    rows: list[tuple[int, list[str]]] = []  # (line, cells) of each table row
    for line in markdown.splitlines():
        if _RULE.match(line) and set(line.strip()) <= set("|-: "):
            continue
        if not _ROW.match(line):
            if line.strip():
                lines.append(line.strip())
            continue
        cells: list[str] = []
        for cell in line.strip().strip("|").split("|"):
            cell = " ".join(cell.split())
            if not cell:
                continue
            if cell in _STUCK:
                if cell == "$" or not cells:
                    continue  # "$" precedes its number; the number says enough
                cells[-1] += cell
                continue
            cells.append(cell)
        if cells:
            lines.append(" | ".join(cells))
            rows.append((len(lines) - 1, cells))
    if sum(len(line) + 1 for line in lines) > LABELS_FIRST_CHARS:
        return _labels_first(lines, rows)
    return "\n".join(lines)


def _labels_first(lines: list[str], rows: list[tuple[int, list[str]]]) -> str:
    """A long compact table with its rows' labels (a first cell with letters, not an amount) gathered into one
    line at the top and each row left with its values, so the encoder's budget covers every label."""
    labels: list[str] = []
    for at, cells in rows:
        if len(cells) > 1 and _LABEL.search(cells[0]):
            labels.append(cells[0])
            lines[at] = " | ".join(cells[1:])
    if len(labels) < 2:
        return "\n".join(lines)
    first = rows[0][0]  # what precedes the first row (a title line) stays first
    return "\n".join([*lines[:first], "; ".join(labels), *lines[first:]])


def split_run_together(text: str) -> str:
    """text with its letter-spaced words joined ("c a s e s t u d i e s": "case studies") and its long
    run-together letter runs split into words (see the module docstring)."""
    if _SPACED.search(text):
        text = _SPACED.sub(lambda m: _join_spaced(m.group(0)), text)
    if not _RUN.search(text):
        return text
    return _RUN.sub(lambda m: _split_run(m.group(0)), text)


def plain_words(text: str) -> str:
    """text's letters and digits only, lower case, one space between words: for comparing titles and phrases
    whatever their case and punctuation."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _join_spaced(run: str) -> str:
    """A letter-spaced heading's letters as words: joined, then split where the joined run is several words."""
    word = run.replace(" ", "")
    return " ".join(_words(word) or [word])


def _split_run(run: str) -> str:
    parts = [p for p in _CASE_BREAK.split(run) if p]
    out: list[str] = []
    for part in parts:
        if len(part) < MIN_RUN // 2 + 1:
            out.append(part)
            continue
        out.extend(_words(part) or [part])
    return " ".join(out)


def _words(run: str) -> list[str] | None:
    """The words a run of letters is made of, or None when it is one word or its split is no good (a short
    piece that is not a common word: "Ku berne tes" is a name)."""
    pieces = _segment(run)
    if len(pieces) > 1 and all(len(p) > 3 or p.lower() in _SHORT_WORDS for p in pieces):
        return pieces
    return None


@functools.lru_cache(maxsize=65536)
def _segment(word: str) -> list[str]:
    import wordninja

    return list(wordninja.split(word))
