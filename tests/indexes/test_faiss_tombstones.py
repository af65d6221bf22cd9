"""HNSW deletes and replaces by tombstones: no rebuild, the same results as exact search, compaction, reopen."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest
from factories import IMAGE_KINDS as KINDS
from factories import Pixels, image_corpus

from mmrag.elements import Element
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.faiss_image import FaissImageChannel
from mmrag.indexes.faiss_index import HNSW_COMPACT_FRACTION, HnswIndex, load_index
from mmrag.models.image_encoder import OpenClipEncoder
from mmrag.settings import ImageChannelSettings

DOCS = 10  # 6 vectors each: one document is 10% of the graph, under the compaction threshold
FILTERS = [
    None,
    SearchFilter(kinds=["table"]),  # a third: HNSW with a selector
    SearchFilter(docs=["doc 3.pdf", "doc 4.pdf"], kinds=["page", "figure"]),  # 4 vectors: the exact scan
    SearchFilter(pages=(2, 3)),
]


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


class Twins:
    """The same documents in an HNSW channel and in an exact (flat) one, changed alike and compared."""

    def __init__(self, tmp_path: Path, encoder: OpenClipEncoder, pixels: Pixels) -> None:
        self.tmp_path, self.encoder = tmp_path, encoder
        self.rng = np.random.default_rng(7)
        corpus = image_corpus(pixels, docs=DOCS)
        self.docs: dict[str, list[Element]] = {}
        for e in corpus:
            if e.image:
                self.docs.setdefault(e.doc, []).append(e)
        self.hnsw = self.open("hnsw", exact_max=4)
        self.flat = self.open("flat", exact_max=10_000)
        self.current: dict[str, np.ndarray] = {}  # element id -> its vector now
        for doc in self.docs:
            self.put(doc)
        self.hnsw.search_vector(self.current[self.docs["doc 0.pdf"][0].id], k=1)  # builds the graph

    def open(self, name: str, **settings: object) -> FaissImageChannel:
        return FaissImageChannel.open(self.tmp_path / name, ImageChannelSettings(kinds=list(KINDS), **settings),
                                      self.encoder)  # type: ignore[arg-type]

    def put(self, doc: str) -> np.ndarray:
        """(Re)write a document's vectors with new random ones in both channels; returns them."""
        vectors = _unit(self.rng, len(self.docs[doc]), self.encoder.dim)
        for channel in (self.hnsw, self.flat):
            channel.add_vectors(doc, self.docs[doc], vectors)
        self.current.update({e.id: v for e, v in zip(self.docs[doc], vectors)})
        return vectors

    def delete(self, doc: str) -> None:
        for channel in (self.hnsw, self.flat):
            channel.delete_docs([doc])
        for e in self.docs[doc]:
            self.current.pop(e.id, None)

    def assert_same_results(self, hnsw: FaissImageChannel | None = None, queries: int = 8) -> None:
        """Every query under every filter: HNSW gives what exact search gives, k live hits where there are k."""
        hnsw = hnsw or self.hnsw
        for q in _unit(self.rng, queries, self.encoder.dim):
            for flt in FILTERS:
                for k in (3, 100):
                    got, want = hnsw.search_vector(q, k, flt), self.flat.search_vector(q, k, flt)
                    assert [h.element_id for h in got] == [h.element_id for h in want], (flt, k)
                    assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)
                    live = len(self.current) if flt is None else len(self.flat.vectors.select(flt))
                    assert len(got) == min(k, live)


@pytest.fixture
def twins(tmp_path: Path, encoder: OpenClipEncoder, pixels: Pixels) -> Twins:
    return Twins(tmp_path, encoder, pixels)


def test_delete_leaves_tombstones_instead_of_a_rebuild(twins: Twins) -> None:
    index = twins.hnsw.index
    assert isinstance(index, HnswIndex) and index.size == 60 and index.tombstones == 0
    gone = {e.id for e in twins.docs["doc 3.pdf"]}
    twins.delete("doc 3.pdf")
    twins.assert_same_results()
    assert twins.hnsw.index is index  # the same graph: nothing was rebuilt
    assert (index.size, index.ntotal, index.tombstones) == (60, 54, 6)
    assert not gone & {h.element_id for h in twins.hnsw.search_vector(twins.current[next(iter(twins.current))], 100)}
    assert twins.hnsw.search_vector(np.ones(twins.encoder.dim), 5, SearchFilter(docs=["doc 3.pdf"])) == []
    assert twins.hnsw.describe()["vectors"] == 54 and twins.hnsw.describe()["tombstones"] == 6


def test_a_replaced_document_is_found_under_its_new_vectors(twins: Twins) -> None:
    index = twins.hnsw.index
    doc = twins.docs["doc 5.pdf"]
    old = np.stack([twins.current[e.id] for e in doc])
    new = twins.put("doc 5.pdf")
    assert twins.hnsw.index is index and (index.size, index.ntotal, index.tombstones) == (66, 60, 6)
    for e, vector, stale in zip(doc, new, old):
        top = twins.hnsw.search_vector(vector, 1)[0]
        assert top.element_id == e.id and top.score == pytest.approx(1.0, abs=1e-5)
        # the old vector stays in the graph under a dead position: its element scores as its new vector does
        hit = {h.element_id: h.score for h in twins.hnsw.search_vector(stale, 100)}[e.id]
        assert hit == pytest.approx(float(stale @ vector), abs=1e-5) and hit < 0.99
    twins.assert_same_results()
    twins.put("doc 5.pdf")  # a point id dead twice over, re-added again
    assert (index.size, index.ntotal, index.tombstones) == (72, 60, 12) and twins.hnsw.index is index
    twins.assert_same_results()


def test_compaction_rebuilds_once_tombstones_pass_the_threshold(twins: Twins) -> None:
    index = twins.hnsw.index
    twins.delete("doc 1.pdf")
    twins.delete("doc 2.pdf")  # 12 dead of 60
    assert 12 / 60 <= HNSW_COMPACT_FRACTION
    twins.assert_same_results()
    assert twins.hnsw.index is index and index.tombstones == 12
    twins.put("doc 6.pdf")  # 18 dead of 66: past it, so the next search rebuilds from the files
    assert 18 / 66 > HNSW_COMPACT_FRACTION
    twins.assert_same_results()
    assert twins.hnsw.index is not index
    assert (twins.hnsw.index.size, twins.hnsw.index.tombstones) == (48, 0)
    # a threshold of 0 is the behaviour before tombstones: every removal rebuilds
    twins.hnsw.compact_fraction = 0.0
    index = twins.hnsw.index
    twins.delete("doc 7.pdf")
    twins.assert_same_results()
    assert twins.hnsw.index is not index and twins.hnsw.index.tombstones == 0


def test_tombstones_survive_close_and_reopen(twins: Twins) -> None:
    twins.delete("doc 3.pdf")
    twins.put("doc 5.pdf")
    queries = _unit(np.random.default_rng(11), 4, twins.encoder.dim)
    before = [twins.hnsw.search_vector(q, 10, flt) for q in queries for flt in FILTERS]
    twins.hnsw.close()
    root = twins.tmp_path / "hnsw" / "faiss"
    sidecar = json.loads((root / "index.json").read_text())
    assert (sidecar["index_type"], sidecar["vectors"], sidecar["tombstones"]) == ("hnsw", 54, 12)
    mtime = (root / "index.faiss").stat().st_mtime_ns
    again = twins.open("hnsw", exact_max=4)
    assert (again.index.size, again.index.ntotal, again.index.tombstones) == (66, 54, 12)  # loaded, not rebuilt
    assert [again.search_vector(q, 10, flt) for q in queries for flt in FILTERS] == before
    twins.assert_same_results(again)
    again.close()
    assert (root / "index.faiss").stat().st_mtime_ns == mtime  # nothing changed, nothing written


def test_a_crash_before_flush_resurrects_nothing(twins: Twins) -> None:
    twins.hnsw.flush()
    twins.delete("doc 3.pdf")  # after the flush: one document deleted, one replaced, then a "crash" (no flush)
    twins.put("doc 5.pdf")
    recovered = twins.open("hnsw", exact_max=4)
    assert recovered.docs() == twins.flat.docs()
    assert recovered.index.tombstones == 12  # the saved graph, brought up to date in place
    twins.assert_same_results(recovered)
    recovered.flush()
    # saved with its tombstones, then another delete and a crash: the reopened graph would hold 18 dead of 66,
    # past the threshold, so open compacts it
    twins.delete("doc 4.pdf")
    again = twins.open("hnsw", exact_max=4)
    assert 18 / 66 > HNSW_COMPACT_FRACTION and (again.index.size, again.index.tombstones) == (48, 0)
    twins.assert_same_results(again)


def test_the_index_alone_reads_dead_positions_from_its_id_map() -> None:
    rng = np.random.default_rng(3)
    index = HnswIndex.new(16)
    first = _unit(rng, 5, 16)
    index.add(first, np.arange(10, 15))
    newer = _unit(rng, 2, 16)
    index.add(newer, np.array([11, 13]))  # an upsert: 11 and 13 move to fresh positions
    index.remove(np.array([14, 99]))  # 99 was never there
    assert (index.size, index.ntotal, index.tombstones) == (7, 4, 3)
    assert sorted(index.ids().tolist()) == [10, 11, 12, 13]
    scores, labels = index.search(first[1:2], 4, None)
    assert sorted(labels[0].tolist()) == [10, 11, 12, 13]  # k live results, no dead one among them
    assert scores[0][labels[0].tolist().index(11)] == pytest.approx(float(first[1] @ newer[0]), abs=1e-5)
    scores, labels = index.search(first[1:2], 2, np.array([11, 14]))
    assert labels[0].tolist() == [11, -1]
    # a loaded graph finds its superseded positions again (the newest position of an id is the live one); ids
    # removed outright are the channel's to find again (they are in no vector file)
    loaded = load_index(index.serialize(), "hnsw")
    assert isinstance(loaded, HnswIndex)
    assert (loaded.size, loaded.tombstones) == (7, 2) and sorted(loaded.ids().tolist()) == [10, 11, 12, 13, 14]
    assert faiss.vector_to_array(loaded.index.id_map).tolist() == [10, 11, 12, 13, 14, 11, 13]
