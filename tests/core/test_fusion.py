from __future__ import annotations

import pytest

from mmrag.elements import ChannelHit
from mmrag.fusion import apply_kind_quota, fuse


def ranking(channel: str, ids: list[str], scores: list[float] | None = None) -> list[ChannelHit]:
    scores = scores or [1.0 / (i + 1) for i in range(len(ids))]
    return [ChannelHit(e, s, r, channel) for r, (e, s) in enumerate(zip(ids, scores), start=1)]


def test_rrf_rewards_agreement_between_channels() -> None:
    fused = fuse({"text": ranking("text", ["a", "b", "c"]), "image": ranking("image", ["c", "d", "a"])}, rrf_k=60)
    order = [u.key for u in fused]
    assert order[:2] == ["a", "c"]  # both in each channel beat single-channel hits
    a = fused[0]
    assert a.score == pytest.approx(1 / 61 + 1 / 63)
    assert set(a.channels) == {"text", "image"}


def test_weights_change_the_winner() -> None:
    rankings = {"text": ranking("text", ["t"]), "image": ranking("image", ["i"])}
    assert fuse(rankings, weights={"text": 1.0, "image": 2.0})[0].key == "i"
    assert fuse(rankings, weights={"text": 2.0, "image": 1.0})[0].key == "t"


def test_weighted_score_fusion_normalises_each_channel() -> None:
    rankings = {
        "text": ranking("text", ["a", "b"], [10.0, 0.0]),
        "image": ranking("image", ["b", "a"], [0.3, 0.1]),
    }
    fused = fuse(rankings, method="weighted")
    scores = {u.key: u.score for u in fused}
    assert scores == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    with pytest.raises(ValueError):
        fuse(rankings, method="max")


def test_grouping_key_collapses_units_and_keeps_each_channels_best() -> None:
    page = {"a": "p1", "b": "p1", "c": "p2"}
    rankings = {"text": ranking("text", ["b", "c", "a"]), "image": ranking("image", ["a"])}
    fused = fuse(rankings, key=lambda h: page[h.element_id])
    assert [u.key for u in fused] == ["p1", "p2"]
    p1 = fused[0]
    assert p1.channels["text"].element_id == "b" and p1.channels["image"].element_id == "a"
    assert p1.members == ["b", "a"]
    assert p1.score == pytest.approx(1 / 61 + 1 / 61)  # text counts once, with its best rank


def test_kind_quota_pulls_a_figure_into_the_top_k() -> None:
    kinds = {"t1": "text", "t2": "text", "t3": "text", "f1": "figure"}
    fused = fuse({"text": ranking("text", ["t1", "t2", "t3", "f1"])})
    top = apply_kind_quota(fused, 3, {"figure": 1}, lambda u: {kinds[u.key]})
    assert [u.key for u in top] == ["t1", "t2", "f1"]
    # no candidates of the kind: nothing changes
    top = apply_kind_quota(fused, 3, {"table": 1}, lambda u: {kinds[u.key]})
    assert [u.key for u in top] == ["t1", "t2", "t3"]


def test_evidence_decay_lets_a_page_with_several_hits_outrank_one_lucky_hit() -> None:
    from mmrag.elements import ChannelHit

    ranking = {"text": [ChannelHit("a", 1.0, 1, "text"), ChannelHit("b", 0.9, 2, "text"),
                        ChannelHit("c", 0.8, 3, "text")]}
    page = {"a": 1, "b": 2, "c": 2}
    best_only = fuse(ranking, key=lambda h: page[h.element_id])
    assert [u.key for u in best_only] == [1, 2]
    with_evidence = fuse(ranking, key=lambda h: page[h.element_id], evidence_decay=0.9)
    assert [u.key for u in with_evidence] == [2, 1]
    assert with_evidence[0].members == ["b", "c"] and with_evidence[0].channels["text"].element_id == "b"


def test_kind_quotas_never_push_out_the_best_unit() -> None:
    kinds = {"t1": "text", "f1": "figure", "f2": "figure", "b1": "table", "b2": "table"}
    fused = fuse({"text": ranking("text", ["t1", "f1", "f2", "b1", "b2"])})
    top = apply_kind_quota(fused, 3, {"figure": 2, "table": 2}, lambda u: {kinds[u.key]})
    assert top[0].key == "t1" and len(top) == 3
    top = apply_kind_quota(fused, 1, {"figure": 1}, lambda u: {kinds[u.key]})
    assert [u.key for u in top] == ["t1"]
