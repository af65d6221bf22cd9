"""The model-free generator: quotes the sentences of the top hits that share the most words with the question."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mmrag.elements import Answer, Element, Hit
from mmrag.generators.base import Generator
from mmrag.generators.context import UNSUPPORTED_ANSWER, build_context, citations_from_text, marker_for

LABEL = "Extractive answer (no generative model configured):"

_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below between both but by can
    could did do does doing down during each few for from further had has have having he her here hers him his how i
    if in into is it its itself just me more most my no nor not now of off on once only or other our out over own
    same she should so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your yours shown show
    shows according document documents say says said tell give describe""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")


def content_terms(text: str) -> set[str]:
    """Lowercased content words with a light plural/suffix strip, stopwords dropped."""
    terms = set()
    for w in _WORD.findall(text.lower()):
        if w in _STOPWORDS or (len(w) < 2 and not w.isdigit()):
            continue
        terms.add(_stem(w))
    return terms


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def split_sentences(text: str) -> list[str]:
    """Sentences and lines (table rows stay whole)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


@dataclass
class _Candidate:
    score: int
    rank: int
    position: int
    text: str
    marker: str


class ExtractiveGenerator(Generator):
    """Returns the best supporting passages of the top hits, each with its marker; no model involved.

    Document content is only ever quoted, so instructions inside documents cannot change what it does.
    """

    name = "extractive"

    def __init__(
        self, *, max_sentences: int = 3, max_hits: int = 8, max_sentence_chars: int = 400, max_context_chars: int = 6000
    ) -> None:
        self.max_sentences = max_sentences
        self.max_hits = max_hits
        self.max_sentence_chars = max_sentence_chars
        self.max_context_chars = max_context_chars

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        top = list(hits)[: self.max_hits]
        ctx = build_context(top, max_context_chars=self.max_context_chars, max_images=0)
        query = content_terms(question)
        candidates = self._candidates(query, top) if query else []
        best = sorted(candidates, key=lambda c: (-c.score, c.rank, c.position))[: self.max_sentences]
        if not best:
            return Answer(f"{LABEL} {UNSUPPORTED_ANSWER}", self.name, [], list(hits), supported=False)
        # Keep the best passage and those nearly as good (more than two thirds of its overlap), best first.
        best = [best[0]] + [c for c in best[1:] if 3 * c.score > 2 * best[0].score]
        # A bare caption adds nothing next to a quote of the same figure or table, which names it.
        best = [c for c in best if not any(o is not c and o.text.startswith(c.text) for o in best)]
        text = LABEL + "\n" + "\n".join(f"- {c.text} {c.marker}" for c in best)
        citations = citations_from_text(text, ctx.markers)
        return Answer(text, self.name, citations, list(hits), supported=bool(citations))

    def _candidates(self, query: set[str], hits: Sequence[Hit]) -> list[_Candidate]:
        out: list[_Candidate] = []
        seen: set[str] = set()
        for rank, hit in enumerate(hits):
            marker = marker_for(hit.element.doc, hit.element.page)
            position = 0
            for e in [hit.element, *hit.context]:
                label = {"figure": "Figure", "table": "Table"}.get(e.kind)
                named = f'{label} "{_clip(e.caption, self.max_sentence_chars)}"' if label and e.caption else label
                # A row or a chart's labels mean something only with their caption: they inherit its words.
                inherited = content_terms(e.caption) if label and e.caption else set()
                for i, sentence in enumerate(self._units(e)):
                    position += 1
                    score = len(query & (content_terms(sentence) | inherited))
                    key = " ".join(sentence.lower().split())
                    if score == 0 or key in seen:
                        continue
                    seen.add(key)
                    quoted = _clip(sentence, self.max_sentence_chars)
                    if named and i == 0 and sentence == e.caption:
                        text = f"{named}"
                    elif named:
                        text = f"{named}: {quoted}"
                    else:
                        text = quoted
                    out.append(_Candidate(score, rank, position, text, marker))
        return out


    @staticmethod
    def _units(e: Element) -> list[str]:
        """What can be quoted: the caption, then table rows, a figure's text as one line, or sentences."""
        if e.kind == "table":
            body = table_rows(e.text) or split_sentences(e.text)
        elif e.kind == "figure":
            body = [" ".join(e.text.split())] if e.text.strip() else []
        else:
            body = split_sentences(e.text)
        return ([e.caption] if e.caption else []) + body


def table_rows(markdown: str) -> list[str] | None:
    """Each data row of a Markdown table as 'Header: cell; …', so a row is quoted with what its cells mean."""
    lines = [ln.strip() for ln in markdown.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 3 or not set(lines[1]) <= set("|-: "):
        return None

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip("|").split("|")]

    header = cells(lines[0])
    rows = []
    for line in lines[2:]:
        values = cells(line)
        pairs = [f"{h}: {v}" if h else v for h, v in zip(header, values) if v]
        rows.append("; ".join(pairs))
    return rows


def _clip(text: str, limit: int) -> str:
    # Brackets become parentheses so a quoted document cannot add citation markers of its own.
    text = " ".join(text.split()).replace("[", "(").replace("]", ")")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
