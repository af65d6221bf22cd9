"""Late fusion of per-channel rankings: reciprocal rank fusion or weighted score fusion."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from mmrag.elements import ChannelHit


@dataclass
class FusedItem:
    """A fused unit (an element, or a page when collapsing) with each channel's best evidence."""

    key: Hashable
    score: float
    channels: dict[str, ChannelHit] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)  # element ids in the unit, best first


def fuse(
    rankings: Mapping[str, Sequence[ChannelHit]],
    method: str = "rrf",
    weights: Mapping[str, float] | None = None,
    rrf_k: int = 60,
    key: Callable[[ChannelHit], Hashable] | None = None,
    evidence_decay: float = 0.0,
) -> list[FusedItem]:
    """Fuse channel rankings into one list, best first.

    key groups hits into one unit (default: the element id); within a unit each channel's best-ranked hit
    counts fully, so a page found by both channels keeps the evidence of each. evidence_decay > 0 lets a unit's
    further hits in the same channel add to its score too (the j-th next one weighted by evidence_decay**j):
    a page whose several chunks, captions or tables match outranks a page with one lucky chunk.
    method: "rrf" (sum of w / (rrf_k + rank)) or "weighted" (sum of w * min-max normalised score).
    """
    if method not in ("rrf", "weighted"):
        raise ValueError(f"unknown fusion method {method!r}: use rrf or weighted")
    weights = weights or {}
    key = key or (lambda h: h.element_id)
    units: dict[Hashable, FusedItem] = {}
    seen: dict[tuple[Hashable, str], int] = {}  # (unit, channel) -> hits of that channel already counted
    for channel, hits in rankings.items():
        w = float(weights.get(channel, 1.0))
        if not hits or w == 0:
            continue
        lo = min(h.score for h in hits)
        hi = max(h.score for h in hits)
        for h in sorted(hits, key=lambda h: h.rank):
            k = key(h)
            unit = units.setdefault(k, FusedItem(key=k, score=0.0))
            if h.element_id not in unit.members:
                unit.members.append(h.element_id)
            counted = seen.get((k, channel), 0)
            seen[(k, channel)] = counted + 1
            if counted == 0:
                unit.channels[channel] = h
            elif not evidence_decay:
                continue
            share = w * (evidence_decay**counted)
            if method == "rrf":
                unit.score += share / (rrf_k + h.rank)
            else:
                unit.score += share * ((h.score - lo) / (hi - lo) if hi > lo else 1.0)
    return sorted(units.values(), key=lambda u: (-u.score, _best_rank(u)))


def rrf_ranking(rankings: Mapping[str, Sequence[ChannelHit]], name: str, rrf_k: int = 60) -> list[ChannelHit]:
    """Rankings fused per element by equal-weight RRF, as one ranking of hits named `name`, best first."""
    fused = fuse(rankings, method="rrf", rrf_k=rrf_k)
    return [ChannelHit(str(u.key), u.score, rank, name) for rank, u in enumerate(fused, start=1)]


def _best_rank(unit: FusedItem) -> int:
    return min(h.rank for h in unit.channels.values())


def apply_kind_quota(
    ranked: list[FusedItem], k: int, quota: Mapping[str, int], kind_of: Callable[[FusedItem], set[str]]
) -> list[FusedItem]:
    """The top k, changed so that each kind with a quota has at least that many units when any exist.

    Units pulled in for a quota replace the lowest-ranked units that no quota needs, never the first unit (with a
    small k the quotas could otherwise fill every place and push out the best hit); order stays by score.
    """
    top = list(ranked[:k])
    rest = list(ranked[k:])
    for kind, need in quota.items():
        have = sum(1 for u in top if kind in kind_of(u))
        for cand in [u for u in rest if kind in kind_of(u)]:
            if have >= need:
                break
            victim = _last_replaceable(top, quota, kind_of)
            if victim is None:
                break
            top.remove(victim)
            rest.remove(cand)
            top.append(cand)
            have += 1
    order = {id(u): i for i, u in enumerate(ranked)}
    return sorted(top, key=lambda u: order[id(u)])


def _last_replaceable(
    top: list[FusedItem], quota: Mapping[str, int], kind_of: Callable[[FusedItem], set[str]]
) -> FusedItem | None:
    for unit in reversed(top[1:]):
        kinds = kind_of(unit)
        protected = False
        for kind, need in quota.items():
            if kind in kinds and sum(1 for u in top if kind in kind_of(u)) <= need:
                protected = True
        if not protected:
            return unit
    return None
