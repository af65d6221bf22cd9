"""QdrantPagesChannel: late-interaction page vectors as a Qdrant multivector (MaxSim), on Edge and on a server
(qdrant-client local mode): the ranking equals a brute-force MaxSim in numpy, two-stage search, pooling,
in-index filters, deletes, listing for `check`, reopening, float16 and quantised storage, a model change."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from factories import FakePagesEncoder, Pixels
from PIL import Image
from qdrant_client import QdrantClient

from mmrag.elements import Element, element_id
from mmrag.errors import StaleVectors
from mmrag.indexes.base import SearchFilter, channel_kind
from mmrag.indexes.qdrant_pages import PAGES, POOLED, QdrantPagesChannel, pages_collection
from mmrag.models.late_interaction import maxsim, pool_tokens, pooled_vector
from mmrag.settings import PagesChannelSettings, TextChannelSettings

BACKENDS = ["edge", "server"]
QUERIES = ["solar capacity by region", "wafer yield by lot", "a table of results"]


class Backend:
    """Opens the channel of one index folder, on Edge or on one qdrant-client local-mode "server"."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.client = QdrantClient(location=":memory:") if kind == "server" else None
        self.text = TextChannelSettings(collection="mmrag_idx_0123abcd")

    def open(self, encoder: object, reset_stale: bool = False, **settings: object) -> QdrantPagesChannel:
        cfg = PagesChannelSettings(**{"model": "fake", "datatype": "float32", **settings})  # type: ignore[arg-type]
        return QdrantPagesChannel.open(self.root, cfg, encoder, text=self.text, client=self.client,  # type: ignore[arg-type]
                                       reset_stale=reset_stale)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield Backend(request.param, tmp_path / "idx")


@pytest.fixture
def pixels() -> Pixels:
    return Pixels()


@pytest.fixture
def corpus(pixels: Pixels) -> list[Element]:
    """3 documents of 4 pages (random renders), each with a figure crop and a text chunk the channel skips."""
    rng = np.random.default_rng(7)
    out = []
    for d in range(3):
        doc, sha = f"doc {d}.pdf", f"sha{d}"
        for page in range(1, 5):
            box = (0.0, 0.0, 612.0, 792.0)
            image = pixels.put(Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)))
            out.append(Element(element_id(sha, page, "page", box), doc, sha, page, "page", box, image=image))
        crop = pixels.put(Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)))
        box = (5.0, 5.0, 50.0, 50.0)
        out.append(Element(element_id(sha, 1, "figure", box), doc, sha, 1, "figure", box, image=crop))
        out.append(Element(element_id(sha, 1, "text", box), doc, sha, 1, "text", box, text="words"))
    return out


def _page_vectors(encoder: FakePagesEncoder, pixels: Pixels, corpus: list[Element]) -> dict[str, np.ndarray]:
    """What the encoder gives each page render, computed apart from the channel."""
    return {e.id: encoder._vectors(Image.open(io.BytesIO(pixels(e.image or ""))).tobytes())
            for e in corpus if e.kind == "page"}


def _brute_force(query: np.ndarray, pages: dict[str, np.ndarray], k: int) -> list[tuple[str, float]]:
    scored = sorted(((eid, maxsim(query, v)) for eid, v in pages.items()), key=lambda r: (-r[1], r[0]))
    return scored[:k]


def test_maxsim_ranking_equals_brute_force(backend: Backend, corpus: list[Element], pixels: Pixels) -> None:
    encoder = FakePagesEncoder()
    channel = backend.open(encoder)
    assert channel.add(corpus, pixels) == 12  # page renders only: no figure crop, no text
    pages = _page_vectors(encoder, pixels, corpus)
    for query in QUERIES:
        q = encoder._vectors(query.encode())
        for k in (5, 12):
            hits = channel.search(query, k=k)
            want = _brute_force(q, pages, k)
            assert [h.element_id for h in hits] == [eid for eid, _ in want]
            assert [h.score for h in hits] == pytest.approx([s for _, s in want], abs=1e-5)
            assert [h.rank for h in hits] == list(range(1, k + 1)) and {h.channel for h in hits} == {"pages"}
    # encode once, search with the encoded query (what the query pipeline does)
    encoded = channel.encode_query(QUERIES[0])
    assert channel.search_all(encoded, 5) == {"pages": channel.search(QUERIES[0], k=5)}
    assert channel.search("   ", k=5) == [] and channel.search(QUERIES[0], k=0) == []


def test_two_stage_rescores_the_pooled_candidates(backend: Backend, corpus: list[Element], pixels: Pixels) -> None:
    encoder = FakePagesEncoder()
    channel = backend.open(encoder, two_stage=True, first_stage_k=4)
    channel.add(corpus, pixels)
    pages = _page_vectors(encoder, pixels, corpus)
    for query in QUERIES:
        q = encoder._vectors(query.encode())
        pooled_q = pooled_vector(q)
        first = sorted(pages, key=lambda eid: -float(pooled_q @ pooled_vector(pages[eid])))[:4]
        want = _brute_force(q, {eid: pages[eid] for eid in first}, 3)
        hits = channel.search(query, k=3)
        assert [h.element_id for h in hits] == [eid for eid, _ in want]
        assert [h.score for h in hits] == pytest.approx([s for _, s in want], abs=1e-5)
    # a first stage as deep as the index: the same ranking as the exact search (a query-time setting)
    channel.settings.first_stage_k = 50
    assert [h.element_id for h in channel.search(QUERIES[1], k=12)] == \
        [eid for eid, _ in _brute_force(encoder._vectors(QUERIES[1].encode()), pages, 12)]


def test_token_pooling_is_what_gets_scored(backend: Backend, corpus: list[Element], pixels: Pixels) -> None:
    encoder = FakePagesEncoder()
    channel = backend.open(encoder, pool_factor=2)
    channel.add(corpus, pixels)
    pooled = {eid: pool_tokens(v, 2) for eid, v in _page_vectors(encoder, pixels, corpus).items()}
    q = encoder._vectors(QUERIES[0].encode())
    hits = channel.search(QUERIES[0], k=12)
    want = _brute_force(q, pooled, 12)
    assert [h.element_id for h in hits] == [eid for eid, _ in want]
    assert [h.score for h in hits] == pytest.approx([s for _, s in want], abs=1e-5)
    assert channel.fingerprint()["pool_factor"] == 2


def test_filters_apply_inside_the_search(backend: Backend, corpus: list[Element], pixels: Pixels) -> None:
    channel = backend.open(FakePagesEncoder())
    channel.add(corpus, pixels)
    by_id = {e.id: e for e in corpus}
    cases = [
        (SearchFilter(docs=["doc 1.pdf"]), lambda e: e.doc == "doc 1.pdf", 4),
        (SearchFilter(pages=(2, 3)), lambda e: 2 <= e.page <= 3, 6),
        (SearchFilter(kinds=["page", "figure"]), lambda e: e.kind == "page", 12),
        (SearchFilter(docs=["doc 0.pdf", "doc 2.pdf"], pages=(4, 4)), lambda e: e.doc != "doc 1.pdf" and e.page == 4,
         2),
    ]
    for flt, keep, expected in cases:
        for two_stage in (False, True):
            channel.settings.two_stage, channel.settings.first_stage_k = two_stage, 2
            hits = channel.search("x", k=50, flt=flt)
            assert len(hits) == expected and all(keep(by_id[h.element_id]) for h in hits), (flt, two_stage)
            # a filter is not a post-filter of a short list: k=2 still gives 2 matching hits
            assert len(channel.search("x", k=2, flt=flt)) == 2
    assert channel.search("x", k=5, flt=SearchFilter(kinds=["figure", "table"])) == []  # no pages asked for
    assert channel.search("x", k=5, flt=SearchFilter(docs=["nope.pdf"])) == []


def test_delete_list_and_reopen(backend: Backend, corpus: list[Element], pixels: Pixels) -> None:
    encoder = FakePagesEncoder()
    channel = backend.open(encoder)
    channel.add(corpus, pixels)
    embedded = {e.id: e.doc for e in corpus if e.kind == "page"}
    assert channel.point_elements() == embedded  # what `mmrag check` compares with the element store
    assert all(channel.holds(e) == (e.kind == "page") for e in corpus)
    channel.add([e for e in corpus if e.doc == "doc 0.pdf"], pixels)  # re-adding replaces (same point ids)
    assert channel.count() == 12
    channel.delete_docs(["doc 1.pdf", "unknown.pdf"])
    assert channel.docs() == {"doc 0.pdf", "doc 2.pdf"} and channel.count() == 8
    before = channel.search(QUERIES[0], k=8)
    assert {h.element_id for h in before} == {eid for eid, doc in embedded.items() if doc != "doc 1.pdf"}
    if backend.kind == "edge":
        channel.close()
        assert (backend.root / "qdrant_pages" / "edge_config.json").is_file()
    again = backend.open(encoder)
    assert again.search(QUERIES[0], k=8) == before
    info = again.describe()
    assert info["points"] == 8 and info["datatype"] == "float32" and info["two_stage"] is False


def test_float16_and_quantised_storage(backend: Backend, corpus: list[Element], pixels: Pixels) -> None:
    encoder = FakePagesEncoder()
    pages = _page_vectors(encoder, pixels, corpus)
    q = encoder._vectors(QUERIES[2].encode())
    for i, (datatype, quantization) in enumerate([("float16", "none"), ("float16", "int8"), ("float32", "binary")]):
        backend.root = backend.root.parent / f"store{i}"
        backend.client = QdrantClient(location=":memory:") if backend.kind == "server" else None
        channel = backend.open(encoder, datatype=datatype, quantization=quantization)
        channel.add(corpus, pixels)
        channel.optimize()  # Edge builds the quantised copy here
        hits = channel.search(QUERIES[2], k=4)
        assert len(hits) == 4
        # scores are MaxSim of the stored (rounded) vectors, rescored from the originals after a quantised scan
        assert [h.score for h in hits] == pytest.approx([maxsim(q, pages[h.element_id]) for h in hits], abs=2e-2)
        if quantization == "none":
            assert [h.element_id for h in hits] == [eid for eid, _ in _brute_force(q, pages, 4)]
        assert channel.fingerprint()["datatype"] == datatype and channel.fingerprint()["quantization"] == quantization
        if backend.kind == "server":  # reopening the collection finds the same storage
            assert backend.open(encoder, datatype=datatype, quantization=quantization).count() == 12


def test_another_model_or_datatype_needs_a_reembed(backend: Backend, corpus: list[Element], pixels: Pixels) -> None:
    channel = backend.open(FakePagesEncoder(dim=8))
    channel.add(corpus, pixels)
    if backend.kind == "edge":
        channel.close()
    with pytest.raises(StaleVectors, match="reembed"):
        backend.open(FakePagesEncoder(dim=12))
    with pytest.raises(StaleVectors, match="reembed"):
        backend.open(FakePagesEncoder(dim=8), datatype="float16")
    fresh = backend.open(FakePagesEncoder(dim=12), reset_stale=True)  # `mmrag index --reembed`
    assert fresh.count() == 0 and fresh.dim == 12


def test_server_collection_is_namespaced_beside_the_text_one(tmp_path: Path) -> None:
    text = TextChannelSettings(collection="mmrag_reports_0123abcd", shard_number=3, on_disk=True)
    client = QdrantClient(location=":memory:")
    channel = QdrantPagesChannel.open(tmp_path, PagesChannelSettings(model="fake"), FakePagesEncoder(),
                                      text=text, client=client)
    assert pages_collection(tmp_path, text) == "mmrag_reports_0123abcd_pages" == channel.store.collection
    request = channel.store.create_request()
    assert request["shard_number"] == 3 and set(request["vectors_config"]) == {PAGES, POOLED}
    params = client.get_collection("mmrag_reports_0123abcd_pages").config.params.vectors
    assert params[PAGES].multivector_config is not None and params[PAGES].datatype.value == "float16"
    assert params[PAGES].hnsw_config.m == 0 and params[POOLED].size == 8  # no graph over the multivectors
    assert channel_kind("pages").load_class() is QdrantPagesChannel


def test_the_tiny_colqwen2_end_to_end(tmp_path: Path, tiny_colqwen2: str, corpus: list[Element],
                                      pixels: Pixels) -> None:
    """With a real (tiny, random) ColQwen2: the stored ranking is MaxSim of the model's own vectors."""
    from mmrag.models.late_interaction import load_pages_encoder

    encoder = load_pages_encoder(tiny_colqwen2, device="cpu", batch_size=4)
    channel = Backend("edge", tmp_path / "idx").open(encoder)
    assert channel.add(corpus, pixels) == 12 and channel.dim == 16
    renders = [e for e in corpus if e.kind == "page"]
    vectors = encoder.encode_pages([Image.open(io.BytesIO(pixels(e.image or ""))) for e in renders])
    pages = {e.id: v for e, v in zip(renders, vectors)}
    q = encoder.encode_queries([QUERIES[0]])[0]
    hits = channel.search(QUERIES[0], k=6)
    assert [h.element_id for h in hits] == [eid for eid, _ in _brute_force(q, pages, 6)]
    assert [h.score for h in hits] == pytest.approx([maxsim(q, pages[h.element_id]) for h in hits], abs=1e-3)
