"""The query path: each channel retrieves on its own, hits are hydrated, fused late and collapsed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmrag.elements import ChannelHit, Element, Hit
from mmrag.errors import MMRagError
from mmrag.fusion import FusedItem, apply_kind_quota, fuse
from mmrag.indexes.base import SearchFilter

if TYPE_CHECKING:
    from mmrag.pipelines.index import MMIndex

MAX_CONTEXT_ELEMENTS = 3  # elements of a collapsed page that travel with its hit to the generator
CHANNEL_CHOICES = ("text", "image", "all", "fused", "text:dense", "text:lexical")


def retrieve_channel(index: MMIndex, name: str, query: str, flt: SearchFilter | None, k: int) -> list[ChannelHit]:
    """One channel's ranking; "text:dense" / "text:lexical" run one side of the text channel (diagnostics)."""
    name, _, mode = name.partition(":")
    channel = index.channels.get(name)
    if channel is None:
        reason = index.disabled.get(name, "unknown channel")
        raise MMRagError(f"the {name} channel is not available: {reason}")
    if mode:
        return channel.search(query, k, flt, mode=mode)  # type: ignore[call-arg]
    return channel.search(query, k, flt)


def search(index: MMIndex, query: str, channel: str = "all", flt: SearchFilter | None = None, k: int = 10) -> list[Hit]:
    """Ranked hits: a single channel, or all enabled channels fused with the query settings."""
    if channel not in CHANNEL_CHOICES:
        raise MMRagError(f"unknown channel {channel!r}: use one of {', '.join(CHANNEL_CHOICES)}")
    cfg = index.settings.query
    fused_mode = channel in ("all", "fused")  # collapse and quotas apply even when only one channel is enabled
    names = list(index.channels) if fused_mode else [channel]
    depth = max(cfg.per_channel_k, k)
    rankings = {name: retrieve_channel(index, name, query, flt, depth) for name in names}
    elements = index.store.get({h.element_id for hits in rankings.values() for h in hits})
    # Drop hits of documents not (yet) ready and re-rank, so a half-written document is never seen.
    rankings = {name: _rerank_visible(hits, elements) for name, hits in rankings.items()}
    if fused_mode and cfg.kind_quota:
        _add_quota_candidates(index, query, flt, rankings, elements)
    collapse = cfg.collapse and fused_mode

    def unit_key(h: ChannelHit) -> object:
        e = elements[h.element_id]
        return (e.doc, e.page) if collapse else e.id

    fused = fuse(rankings, method=cfg.fusion if fused_mode else "rrf", weights=cfg.weights, rrf_k=cfg.rrf_k,
                 key=unit_key)
    if fused_mode and cfg.kind_quota:
        fused = apply_kind_quota(fused, k, cfg.kind_quota, lambda u: {elements[m].kind for m in u.members})
    reranker = index.reranker
    # Only the units that are returned (or reranked) become Hits: each may look up its page's pixels.
    keep = max(k, cfg.per_channel_k) if reranker is not None else k
    hits = [_to_hit(index, u, elements, single=None if fused_mode else names[0]) for u in fused[:keep]]
    if reranker is not None:
        hits = reranker.rerank(query, hits, top_k=k)
    return hits[:k]


def _rerank_visible(hits: list[ChannelHit], elements: dict[str, Element]) -> list[ChannelHit]:
    visible = [h for h in hits if h.element_id in elements]
    return [ChannelHit(h.element_id, h.score, rank, h.channel) for rank, h in enumerate(visible, start=1)]


def _add_quota_candidates(
    index: MMIndex, query: str, flt: SearchFilter | None, rankings: dict[str, list[ChannelHit]],
    elements: dict[str, Element],
) -> None:
    """Append figure/table candidates from the text channel, so quotas can reach them when prose dominates."""
    if "text" not in rankings:
        return
    wanted = [kind for kind in index.settings.query.kind_quota if not flt or not flt.kinds or kind in flt.kinds]
    if not wanted:
        return
    sub = SearchFilter(docs=flt.docs if flt else None, kinds=wanted, pages=flt.pages if flt else None)
    extra = index.channels["text"].search(query, 10, sub)
    have = {h.element_id for h in rankings["text"]}
    new_ids = [h.element_id for h in extra if h.element_id not in have]
    elements.update(index.store.get(new_ids))
    ranked = rankings["text"]
    for h in extra:
        if h.element_id in elements and h.element_id not in have:
            ranked.append(ChannelHit(h.element_id, h.score, len(ranked) + 1, "text"))
            have.add(h.element_id)


def _representative(unit: FusedItem, elements: dict[str, Element]) -> Element:
    """The element that stands for a unit: a figure or table a channel ranked beats prose on its page."""
    members = [elements[m] for m in unit.members]
    best_by_channel = [elements[h.element_id] for h in sorted(unit.channels.values(), key=lambda h: h.rank)]
    for e in best_by_channel + members:
        if e.kind in ("figure", "table"):
            return e
    return best_by_channel[0]


def _to_hit(index: MMIndex, unit: FusedItem, elements: dict[str, Element], single: str | None) -> Hit:
    element = _representative(unit, elements)
    channels = {
        name: {"rank": h.rank, "score": h.score, "element_id": h.element_id} for name, h in unit.channels.items()
    }
    pixels = index.pixel_path(element)
    if pixels is None:
        page = index.page_element(element.doc, element.page)
        pixels = index.pixel_path(page) if page else None
    score = unit.channels[single].score if single else unit.score
    related = [m for m in unit.members if m != element.id]
    context = [elements[m] for m in related if elements[m].kind != "page"][:MAX_CONTEXT_ELEMENTS]
    return Hit(element=element, score=score, channels=channels, related=related, pixels_path=pixels, context=context)
