"""The query path: each channel retrieves on its own, hits are hydrated, fused late, collapsed and reranked.

Each channel encodes the query once and gives every ranking it has for it (`Channel.search_all`: the text
channel its two sides, `text:dense` and `text:lexical`); the rankings are fused in `mmrag.fusion`, so every
weight is ours to set (and `mmrag eval --tune` to choose). A query that names its evidence ("page 14",
"Figure 3", "the last page") adds a `reference` ranking.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mmrag.elements import ChannelHit, Element, Hit
from mmrag.errors import MMRagError
from mmrag.fusion import FusedItem, apply_kind_quota, fuse, rrf_ranking
from mmrag.indexes.base import SearchFilter, channel_kind, list_channels
from mmrag.query_rewrite import Glossary, RewrittenQuery, load_glossary, rewrite_query
from mmrag.references import Reference, find_references, statement_pages
from mmrag.search_text import plain_words
from mmrag.settings import QuerySettings

if TYPE_CHECKING:
    from mmrag.pipelines.parts import IndexParts

MAX_CONTEXT_ELEMENTS = 3  # elements of a collapsed page that travel with its hit to the generator
FUSED = ("all", "fused")  # names of the fused ranking
CHANNEL_CHOICES = (*FUSED, *(run for name in list_channels() for run in channel_kind(name).runs()))
REFERENCE = "reference"  # the ranking of elements a query names ("page 14", "Table 2")
REFERENCE_WEIGHT = 4.0  # a named page or figure outweighs any one channel's rank 1
QUOTA_CANDIDATES = 10
STATEMENT = "statement"  # the pages of the statements a question implies (the glossary's `statements`)
STATEMENT_DOCS_FROM = 3  # without a document filter: statements of the documents of each ranking's top hits
PHRASE = "phrase"  # the candidates whose text holds a phrase the query quotes ('what is open science?')
_QUOTED = re.compile(r"(?<![\w'\"‘“])['\"‘“]([^'\"‘’“”]{4,120})['\"’”](?![\w'\"’”])")
# "<channel>:rrf": a channel's own rankings fused per element (RRF), one more ranking for the late fusion. Late
# fusion works on pages; this carries the channel's element-level agreement between its sides (an element both
# the dense and the lexical side rank high) into it, which per-page fusion alone would lose. Its weight is a query
# setting that `mmrag eval --tune` chooses (0, 1 or 2).
COMBINED = "rrf"


@dataclass
class Retrieval:
    """What the channels returned for one query, hydrated, before any query-time setting is applied.

    `quota` holds extra figure/table candidates per ranking and `reference` the elements the query names;
    `rank_units` decides, by the settings it is given, whether they take part.
    """

    rankings: dict[str, list[ChannelHit]]
    elements: dict[str, Element]
    rewritten: RewrittenQuery  # what the channels searched for (instructions out, glossary terms)
    queries: dict[str, Any] = field(default_factory=dict)  # each channel's encoded query, reused for quota candidates
    quota: dict[str, list[ChannelHit]] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)
    reference: list[ChannelHit] = field(default_factory=list)
    statement: list[ChannelHit] = field(default_factory=list)  # pages of the statements the question implies


def rewrite(cfg: QuerySettings, query: str) -> RewrittenQuery:
    """The query as the channels see it under the query settings (see `mmrag.query_rewrite`)."""
    return rewrite_query(query, load_glossary(cfg.glossary), cfg.strip_instructions, cfg.glossary_dense)


@dataclass
class SearchResult:
    """What `search` returns: the hits, and the references of the query it acted on ("page 14", "Table 2": named
    in the query and found in the index; fused searches only)."""

    hits: list[Hit]
    query: RewrittenQuery  # what the channels searched for (instructions out, glossary terms)
    references: list[Reference] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a search, the same for `search --json`, `GET /api/search` and the MCP `search` tool."""
        return {"query": self.query.to_dict(), "references": [r.to_dict() for r in self.references],
                "hits": [h.to_dict() for h in self.hits]}


def channel_weight(weights: Mapping[str, float], name: str) -> float:
    """A ranking's fusion weight: its own key ("text:dense"), else its channel's ("text"), else 1."""
    if name in weights:
        return float(weights[name])
    return float(weights.get(name.partition(":")[0], 1.0))


def retrieve(
    parts: IndexParts, query: str, names: list[str], flt: SearchFilter | None, k: int, *,
    quota_kinds: list[str] | None = None, references: bool = False, combined: bool = True,
    statements: bool = False,
) -> Retrieval:
    """Every ranking of each named channel ("text", "text:dense", "image", "pages"), hydrated; one query encoding
    each.

    quota_kinds: also fetch, with the same encoded queries, the best elements of these kinds from the channels
    that offer `kind_candidates` (for kind quotas);
    references: also look up what the query names ("page 14", "Table 2"); combined: add "<channel>:rrf" for a
    channel that gives several rankings (`COMBINED`); statements: also look up the pages of the statements the
    query implies (`_find_statements`). Hits of documents that are not ready are dropped (a half-written
    document is never seen).
    """
    rankings: dict[str, list[ChannelHit]] = {}
    queries: dict[str, Any] = {}
    channels = parts.channels.open()
    rq = rewrite(parts.settings.query, query)
    for name in names:
        base, _, mode = name.partition(":")
        channel = channels.get(base)
        if channel is None:
            reason = parts.channels.disabled.get(base) or parts.channels.off.get(base, "unknown channel")
            raise MMRagError(f"the {base} channel is not available: {reason}")
        queries[base] = channel.encode_query(rq.text, mode or None, lexical_terms=rq.lexical_terms,
                                             dense_terms=rq.dense_terms)
        found = channel.search_all(queries[base], k, flt)
        rankings.update(found)
        if combined and len(found) > 1:  # several rankings of one channel also count fused per element
            rankings[f"{base}:{COMBINED}"] = rrf_ranking(found, f"{base}:{COMBINED}")
    quota: dict[str, list[ChannelHit]] = {}
    wanted = [kind for kind in quota_kinds or () if not flt or not flt.kinds or kind in flt.kinds]
    if wanted:
        sub = SearchFilter(docs=flt.docs if flt else None, kinds=wanted, pages=flt.pages if flt else None)
        for base, encoded in queries.items():
            if channels[base].kind_candidates:
                quota.update(channels[base].search_all(encoded, QUOTA_CANDIDATES, sub))
    ids = {h.element_id for hits in [*rankings.values(), *quota.values()] for h in hits}
    elements = parts.store.get(ids)
    r = Retrieval({n: _visible(h, elements) for n, h in rankings.items()}, elements, rq, queries,
                  {n: [h for h in hits if h.element_id in elements] for n, hits in quota.items()})
    if references:
        _find_referenced(parts, query, r, flt)
    if statements and rq.statements:
        _find_statements(parts, r, flt)
    return r


def rank_units(
    r: Retrieval, cfg: QuerySettings, *, fused_mode: bool = True, reranker: Any = None, query: str = "",
) -> list[FusedItem]:
    """The fused ranking of one retrieval under query settings `cfg`, best first (units: pages when collapsing).

    Kind quotas are applied to the top `cfg.k`; the caller cuts to its own k.
    """
    elements = r.elements
    rankings = dict(r.rankings)
    if fused_mode and cfg.references and r.reference:
        rankings[REFERENCE] = r.reference
    if fused_mode and (phrase := phrase_ranking(r)):
        rankings[PHRASE] = phrase
    if fused_mode and cfg.statement_weight and r.statement:
        rankings[STATEMENT] = r.statement
    collapse = cfg.collapse and fused_mode

    def unit_key(h: ChannelHit) -> object:
        e = elements[h.element_id]
        return (e.doc, e.page) if collapse else e.id

    weights = {name: channel_weight(cfg.weights, name) for name in [*rankings, *r.quota]}
    weights[REFERENCE] = REFERENCE_WEIGHT
    weights[STATEMENT] = cfg.statement_weight
    method = cfg.fusion if fused_mode else "rrf"
    evidence = cfg.page_evidence if collapse else 0.0
    fused = fuse(rankings, method=method, weights=weights, rrf_k=cfg.rrf_k, key=unit_key, evidence_decay=evidence)
    if collapse and cfg.neighbour_bonus:
        fused = add_neighbour_bonus(fused, cfg.neighbour_bonus)
    if reranker is not None and fused:
        fused = _rerank(reranker, query, fused, elements, cfg)
    if fused_mode and cfg.kind_quota:
        # Quota candidates are fused on their own and queue behind the ranking: they can only replace its tail
        # within the top k, never change how the ranking itself is ordered or normalised.
        have = {u.key for u in fused}
        extra = [u for u in fuse(r.quota, method=method, weights=weights, rrf_k=cfg.rrf_k, key=unit_key,
                                 evidence_decay=evidence) if u.key not in have]
        fused = apply_kind_quota(fused + extra, cfg.k, cfg.kind_quota,
                                 lambda u: {elements[m].kind for m in u.members})
    return fused


def quoted_phrases(query: str) -> list[str]:
    """The phrases a query quotes ('…', "…", ‘…’, “…”), normalised (`plain_words`); an apostrophe inside a word
    ("the library's history") opens no quote, and a quoted single short word is no phrase."""
    found = [plain_words(m.group(1)) for m in _QUOTED.finditer(query)]
    return [p for p in found if " " in p or len(p) >= 8]


def phrase_ranking(r: Retrieval) -> list[ChannelHit]:
    """The retrieved elements whose text (caption, text, section path) holds a phrase the query quotes, those
    holding more of the phrases first, then by their best rank in any ranking: the words a user copies from a
    slide title or a figure's label single out its page better than their meaning does."""
    phrases = quoted_phrases(r.rewritten.original)
    if not phrases:
        return []
    best: dict[str, int] = {}
    for hits in r.rankings.values():
        for h in hits:
            best[h.element_id] = min(best.get(h.element_id, h.rank), h.rank)
    matched: list[tuple[int, int, str]] = []
    for eid, rank in best.items():
        e = r.elements.get(eid)
        if e is None:
            continue
        text = f" {plain_words(e.searchable_text('section'))} "
        n = sum(1 for p in phrases if f" {p} " in text)
        if n:
            matched.append((-n, rank, eid))
    matched.sort()
    return [ChannelHit(eid, float(-neg), i, PHRASE) for i, (neg, _, eid) in enumerate(matched, start=1)]


def add_neighbour_bonus(units: list[FusedItem], share: float) -> list[FusedItem]:
    """Page units re-ordered after each closes `share` of the gap to its better neighbour (page - 1 or page + 1 of
    the same document, as fused before any bonus): evidence that runs over a page break lifts the page beside a
    hit. A page never passes the neighbour it gains from, and two strong neighbours do not lift each other past
    a better page elsewhere: the first page stays first (an added share of the neighbour's whole score had cost
    the visual dev set two questions at @1)."""
    before = {u.key: u.score for u in units}
    for unit in units:
        doc, page = unit.key  # type: ignore[misc]  # page units: (doc, page)
        better = max(before.get((doc, page - 1), 0.0), before.get((doc, page + 1), 0.0))
        unit.score += share * max(0.0, better - before[unit.key])
    return sorted(units, key=lambda u: -u.score)


def search(
    parts: IndexParts, query: str, channel: str = "all", flt: SearchFilter | None = None, k: int = 10
) -> SearchResult:
    """Ranked hits: a single channel (or text side), or all enabled channels fused with the query settings."""
    if channel not in CHANNEL_CHOICES:
        raise MMRagError(f"unknown channel {channel!r}: use one of {', '.join(CHANNEL_CHOICES)}")
    cfg = replace(parts.settings.query, k=k)
    fused_mode = channel in FUSED  # collapse, quotas, references and rerank apply to the fused ranking
    names = list(parts.channels.open()) if fused_mode else [channel]
    r = retrieve(parts, query, names, flt, max(cfg.per_channel_k, k),
                 quota_kinds=list(cfg.kind_quota) if fused_mode else None, references=fused_mode and cfg.references,
                 combined=fused_mode, statements=fused_mode and bool(cfg.statement_weight))
    reranker = parts.models.reranker(cfg.reranker) if fused_mode else None
    fused = rank_units(r, cfg, fused_mode=fused_mode, reranker=reranker, query=r.rewritten.text)
    # Only the units that are returned become Hits: each may look up its page's pixels.
    single = None if fused_mode else channel  # a channel of several rankings ("text") keeps their fused score
    return SearchResult([_to_hit(parts, u, r.elements, single) for u in fused[:k]], r.rewritten, r.references)


def _visible(hits: list[ChannelHit], elements: dict[str, Element]) -> list[ChannelHit]:
    visible = [h for h in hits if h.element_id in elements]
    return [ChannelHit(h.element_id, h.score, rank, h.channel) for rank, h in enumerate(visible, start=1)]


def _find_referenced(parts: IndexParts, query: str, r: Retrieval, flt: SearchFilter | None) -> None:
    """The elements the query names, in `r.reference`: its pages (by number, printed label, position from either
    end, or as the neighbour of a named page), appendix pages, figures, tables."""
    refs = find_references(query)
    if not refs:
        return
    docs = flt.docs if flt and flt.docs else sorted({e.doc for e in r.elements.values()})
    found: list[str] = []
    for ref in refs:
        ids = parts.store.referenced_elements(docs, ref.kind, ref.value, ref.offset)
        if ids:
            r.references.append(ref)
            found += [i for i in ids if i not in found]
    r.elements.update(parts.store.get([i for i in found if i not in r.elements]))
    found = [i for i in found if i in r.elements]
    r.reference = [ChannelHit(eid, 1.0, rank, REFERENCE) for rank, eid in enumerate(found, start=1)]


def _find_statements(parts: IndexParts, r: Retrieval, flt: SearchFilter | None) -> None:
    """The pages of the statements the query implies, in `r.statement`: in the filter's documents, else in those of
    each ranking's top `STATEMENT_DOCS_FROM` hits; each statement's pages by the titles they open with (the
    glossary's `[[statement]]` tables, `mmrag.references.statement_pages`), in page order, all scored alike: a
    flat prior that the channels' own scores then order."""
    glossary = load_glossary(parts.settings.query.glossary)
    if glossary is None or not glossary.statements:
        return
    if flt and flt.docs:
        docs = list(flt.docs)
    else:
        docs = sorted({r.elements[h.element_id].doc for hits in r.rankings.values()
                       for h in hits[:STATEMENT_DOCS_FROM]})
    wanted = set(r.rewritten.statements)
    pages = [(doc, page, eid) for doc, found in _statements_of(parts, glossary, docs).items()
             for name, run in found.items() if name in wanted
             for page, eid in run if flt is None or flt.matches(doc, "page", page)]
    found = [eid for _, _, eid in sorted(pages)]
    r.elements.update(parts.store.get([i for i in found if i not in r.elements]))
    found = [i for i in found if i in r.elements]
    r.statement = [ChannelHit(eid, 1.0, rank, STATEMENT) for rank, eid in enumerate(found, start=1)]


StatementPages = dict[str, list[tuple[int, str]]]  # statement name -> [(page, page element id)] of one document
# (index folder, the glossary's statement titles, document) -> (the store's generation, its statement pages)
_STATEMENT_PAGES: dict[tuple[str, tuple[tuple[str, str], ...], str], tuple[tuple[int, float], StatementPages]] = {}


def _statements_of(parts: IndexParts, glossary: Glossary, docs: list[str]) -> dict[str, StatementPages]:
    """Each document's statement pages (`mmrag.references.statement_pages` over the page openings the store keeps
    for references), found once per document and kept until the index changes."""
    generation = parts.store.generation()
    titles = tuple((name, t.pattern) for name, t in glossary.statements.items())
    key = {doc: (str(parts.store.root), titles, doc) for doc in docs}
    out: dict[str, StatementPages] = {}
    for doc in docs:
        cached = _STATEMENT_PAGES.get(key[doc])
        if cached and cached[0] == generation:
            out[doc] = cached[1]
    missing = [doc for doc in docs if doc not in out]
    if len(_STATEMENT_PAGES) > 4096:
        _STATEMENT_PAGES.clear()
    for doc, openings in parts.store.page_ends(missing).items() if missing else ():
        found = statement_pages(openings, glossary.statements)
        out[doc] = {name: [(p.page, p.id) for p in run] for name, run in found.items()}
        _STATEMENT_PAGES[key[doc]] = (generation, out[doc])
    return out


def _rerank(
    reranker: Any, query: str, fused: list[FusedItem], elements: dict[str, Element], cfg: Any
) -> list[FusedItem]:
    """Score the top units with the cross-encoder and fuse its order with the first stage's (RRF).

    Each unit is given as its best passages (its members in rank order, pages' full text last), cut to
    `rerank_max_chars`; units past `rerank_depth` keep their order below the reranked ones.
    """
    depth = min(cfg.rerank_depth, len(fused))
    head, tail = fused[:depth], fused[depth:]
    passages = [_unit_passage(u, elements, cfg.rerank_max_chars) for u in head]
    scores = reranker.score_pairs(query, passages)
    order = sorted(range(depth), key=lambda i: -scores[i])
    rerank_rank = {i: rank for rank, i in enumerate(order, start=1)}
    combined = []
    for i, unit in enumerate(head):
        unit.score = 1.0 / (cfg.rrf_k + i + 1) + cfg.rerank_weight / (cfg.rrf_k + rerank_rank[i])
        unit.channels["rerank"] = ChannelHit(unit.members[0], float(scores[i]), rerank_rank[i], "rerank")
        combined.append(unit)
    combined.sort(key=lambda u: -u.score)
    return combined + tail


def _unit_passage(unit: FusedItem, elements: dict[str, Element], max_chars: int) -> str:
    members = [elements[m] for m in unit.members]
    members.sort(key=lambda e: e.kind == "page")  # whole-page text only after the unit's own passages
    text = ""
    for e in members:
        part = e.searchable_text().strip()
        if part and part not in text:
            text = f"{text}\n{part}" if text else part
        if len(text) >= max_chars:
            break
    return text[:max_chars]


def _representative(unit: FusedItem, elements: dict[str, Element]) -> Element:
    """The element that stands for a unit: a figure or table a channel ranked beats prose on its page."""
    members = [elements[m] for m in unit.members]
    ranked = [h for name, h in unit.channels.items() if name != "rerank"]
    best_by_channel = [elements[h.element_id] for h in sorted(ranked, key=lambda h: h.rank)]
    for e in best_by_channel + members:
        if e.kind in ("figure", "table"):
            return e
    return (best_by_channel or members)[0]


def _to_hit(parts: IndexParts, unit: FusedItem, elements: dict[str, Element], single: str | None) -> Hit:
    element = _representative(unit, elements)
    channels: dict[str, dict[str, Any]] = {}
    for name, h in sorted(unit.channels.items(), key=lambda item: item[1].rank):
        base, _, side = name.partition(":")
        entry = channels.setdefault(base, {"rank": h.rank, "score": h.score, "element_id": h.element_id})
        if side:  # the text channel's sides: the channel's entry is its best side, each side's rank kept too
            entry[f"{side}_rank"] = h.rank
    pixels = parts.pixel_path(element)
    if pixels is None:  # prose: the page's render, from the unit itself when its page element was ranked
        page = next((elements[m] for m in unit.members if elements[m].kind == "page" and elements[m].page
                     == element.page and elements[m].doc == element.doc), None)
        page = page or parts.store.page_element(element.doc, element.page)
        pixels = parts.pixel_path(page)
    score = unit.channels[single].score if single in unit.channels else unit.score
    related = [m for m in unit.members if m != element.id]
    context = [elements[m] for m in related if elements[m].kind != "page"][:MAX_CONTEXT_ELEMENTS]
    return Hit(element=element, score=score, channels=channels, related=related, pixels_path=pixels, context=context)
