"""FaissImageChannel: search mechanics, in-index filters, deletes, persistence and crash recovery, HNSW."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from factories import IMAGE_KINDS as KINDS
from factories import TINY_CLIP as TINY
from factories import Pixels, assert_filters_apply_inside_the_search
from PIL import Image

from mmrag.elements import Element
from mmrag.errors import StaleVectors
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.faiss_image import FaissImageChannel
from mmrag.indexes.faiss_index import HNSW_GRAPH
from mmrag.models.image_encoder import OpenClipEncoder
from mmrag.settings import ImageChannelSettings


def _open(tmp_path: Path, encoder: OpenClipEncoder, **settings: object) -> FaissImageChannel:
    settings.setdefault("kinds", list(KINDS))  # the corpus's kinds, whatever the default kinds are
    return FaissImageChannel.open(tmp_path, ImageChannelSettings(**settings), encoder)  # type: ignore[arg-type]


def _embedded(corpus: list[Element]) -> list[Element]:
    return [e for e in corpus if e.image and e.kind in KINDS]


def test_add_and_search_mechanics(tmp_path: Path, encoder: OpenClipEncoder, corpus: list[Element],
                                  pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder)
    assert channel.add(corpus, pixels) == 18
    hits = channel.search("a bar chart of revenue", k=5)
    ids = {e.id for e in _embedded(corpus)}
    assert len(hits) == 5 and all(h.element_id in ids and h.channel == "image" for h in hits)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len(channel.search("x", k=100)) == 18
    assert channel.docs() == {"doc 0.pdf", "doc 1.pdf", "doc 2.pdf"}
    info = channel.describe()
    assert info["device"] == "cpu" and info["index_type"] == "flat" and info["vectors"] == 18
    assert channel.fingerprint() == {"model": TINY, "pretrained": "random", "dim": 32, "kinds": sorted(KINDS)}


def test_stored_image_is_its_own_nearest(tmp_path: Path, encoder: OpenClipEncoder, corpus: list[Element],
                                         pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder)
    channel.add(corpus, pixels)
    target = _embedded(corpus)[7]
    vector = encoder.encode_images([Image.open(io.BytesIO(pixels(target.image or "")))])[0]
    top = channel.search_vector(vector, k=3)[0]
    assert top.element_id == target.id and top.score == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("exact_max", [50_000, 4])  # flat, then HNSW
def test_filters_apply_inside_the_search(tmp_path: Path, encoder: OpenClipEncoder, corpus: list[Element],
                                         pixels: Pixels, exact_max: int) -> None:
    channel = _open(tmp_path, encoder, exact_max=exact_max)
    channel.add(corpus, pixels)
    assert_filters_apply_inside_the_search(channel, corpus)
    assert channel.search("x", k=5, flt=SearchFilter(docs=["nope.pdf"])) == []
    assert channel.search("x", k=5, flt=SearchFilter(pages=(40, 50))) == []


def test_delete_docs(tmp_path: Path, encoder: OpenClipEncoder, corpus: list[Element], pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder)
    channel.add(corpus, pixels)
    channel.delete_docs(["doc 1.pdf", "unknown.pdf"])
    assert channel.docs() == {"doc 0.pdf", "doc 2.pdf"}
    hits = channel.search("x", k=100)
    gone = {e.id for e in corpus if e.doc == "doc 1.pdf"}
    assert len(hits) == 12 and not gone & {h.element_id for h in hits}
    assert len(list((tmp_path / "faiss" / "docs").glob("*.npz"))) == 2


def test_readding_a_document_replaces_its_vectors(tmp_path: Path, encoder: OpenClipEncoder,
                                                  corpus: list[Element], pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder)
    channel.add(corpus, pixels)
    channel.add([e for e in corpus if e.doc == "doc 0.pdf"], pixels)
    assert channel.describe()["vectors"] == 18
    assert len({h.element_id for h in channel.search("x", k=100)}) == 18


def test_reopen_gives_the_same_results(tmp_path: Path, encoder: OpenClipEncoder, corpus: list[Element],
                                       pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder)
    channel.add(corpus, pixels)
    before = channel.search("a diagram", k=10)
    channel.close()
    assert (tmp_path / "faiss" / "index.faiss").is_file() and (tmp_path / "faiss" / "index.json").is_file()
    again = _open(tmp_path, encoder)
    assert again.search("a diagram", k=10) == before
    assert again.docs() == channel.docs()


def test_crash_before_flush_is_recovered_from_the_vector_files(tmp_path: Path, encoder: OpenClipEncoder,
                                                               corpus: list[Element], pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder)
    channel.add([e for e in corpus if e.doc != "doc 2.pdf"], pixels)
    channel.flush()
    # after the flush: one more document added, one deleted, then a "crash" (no flush)
    channel.add([e for e in corpus if e.doc == "doc 2.pdf"], pixels)
    channel.delete_docs(["doc 0.pdf"])
    expected = channel.search("a photo", k=20)
    recovered = _open(tmp_path, encoder)
    assert recovered.docs() == {"doc 1.pdf", "doc 2.pdf"}
    assert recovered.search("a photo", k=20) == expected
    recovered.flush()
    # the index file itself lost: rebuilt from the per-document files
    (tmp_path / "faiss" / "index.faiss").unlink()
    assert _open(tmp_path, encoder).search("a photo", k=20) == expected
    # a torn index file (size/checksum mismatch with the sidecar) is rebuilt too
    (tmp_path / "faiss" / "index.faiss").write_bytes(b"garbage")
    assert _open(tmp_path, encoder).search("a photo", k=20) == expected


def test_hnsw_past_exact_max(tmp_path: Path, encoder: OpenClipEncoder, corpus: list[Element],
                             pixels: Pixels) -> None:
    exact = _open(tmp_path / "exact", encoder)
    hnsw = _open(tmp_path / "hnsw", encoder, exact_max=4)
    exact.add(corpus, pixels)
    hnsw.add(corpus, pixels)
    assert hnsw.describe()["index_type"] == "hnsw" and exact.describe()["index_type"] == "flat"
    for target in _embedded(corpus)[::5]:
        vector = encoder.encode_images([Image.open(io.BytesIO(pixels(target.image or "")))])[0]
        assert hnsw.search_vector(vector, k=1)[0].element_id == exact.search_vector(vector, k=1)[0].element_id
        assert hnsw.search_vector(vector, k=1)[0].element_id == target.id
    # a narrow filter (1 of 18 vectors) runs an exact scan of the HNSW storage; a wide one, HNSW with a selector
    by_id = {e.id: e for e in corpus}
    narrow = hnsw.search("x", k=5, flt=SearchFilter(docs=["doc 0.pdf"], kinds=["table"], pages=(1, 1)))
    assert [(by_id[h.element_id].doc, by_id[h.element_id].kind, by_id[h.element_id].page) for h in narrow] == [
        ("doc 0.pdf", "table", 1)
    ]
    assert narrow == exact.search("x", k=5, flt=SearchFilter(docs=["doc 0.pdf"], kinds=["table"], pages=(1, 1)))
    wide = hnsw.search("x", k=50, flt=SearchFilter(kinds=["page", "table"]))
    assert {h.element_id for h in wide} == {e.id for e in _embedded(corpus) if e.kind in ("page", "table")}
    # a third of the graph deleted is past the compaction threshold: rebuilt from the files, no tombstones left
    hnsw.delete_docs(["doc 0.pdf"])
    assert hnsw.describe()["vectors"] == 12 and hnsw.describe()["tombstones"] == 0
    assert not {h.element_id for h in hnsw.search("x", k=50)} & {e.id for e in corpus if e.doc == "doc 0.pdf"}
    hnsw.close()
    assert _open(tmp_path / "hnsw", encoder, exact_max=4).describe()["index_type"] == "hnsw"
    # falling back under the threshold goes back to exact search
    assert _open(tmp_path / "hnsw", encoder, exact_max=100).describe()["index_type"] == "flat"


def test_hnsw_built_with_other_graph_parameters_is_rebuilt(tmp_path: Path, encoder: OpenClipEncoder,
                                                          corpus: list[Element], pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder, exact_max=4)
    channel.add(corpus, pixels)
    before = channel.search("x", k=5)
    channel.close()
    sidecar_path = tmp_path / "faiss" / "index.json"
    sidecar = json.loads(sidecar_path.read_text())
    assert sidecar["index_type"] == "hnsw" and sidecar["graph"] == HNSW_GRAPH
    # as an index built before efConstruction went from 40 to 100 left it (no "graph" then)
    del sidecar["graph"]
    sidecar_path.write_text(json.dumps(sidecar))
    reopened = _open(tmp_path, encoder, exact_max=4)
    assert reopened.search("x", k=5) == before
    reopened.close()
    assert json.loads(sidecar_path.read_text())["graph"] == HNSW_GRAPH  # rebuilt, and saved again
    # an index whose sidecar matches is loaded as it is, not rebuilt
    mtime = (tmp_path / "faiss" / "index.faiss").stat().st_mtime_ns
    _open(tmp_path, encoder, exact_max=4).close()
    assert (tmp_path / "faiss" / "index.faiss").stat().st_mtime_ns == mtime


def test_other_encoder_vectors_are_reported_stale(tmp_path: Path, encoder: OpenClipEncoder,
                                                  corpus: list[Element], pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder)
    channel.add(corpus, pixels)
    channel.close()

    class Renamed:
        name, dim = "other", encoder.dim
        encode_images, encode_text = encoder.encode_images, encoder.encode_text

        def fingerprint(self) -> dict[str, object]:
            return {"model": "other", "pretrained": "x", "dim": self.dim}

    with pytest.raises(StaleVectors):
        FaissImageChannel.open(tmp_path, ImageChannelSettings(), Renamed())
    fresh = FaissImageChannel.open(tmp_path, ImageChannelSettings(), Renamed(), reset_stale=True)
    assert fresh.docs() == set() and fresh.search("x", k=3) == []


def test_undecodable_pixels_skip_one_element(tmp_path: Path, encoder: OpenClipEncoder, corpus: list[Element],
                                             pixels: Pixels) -> None:
    broken = _embedded(corpus)[0]
    pixels.data[broken.image or ""] = b"not a png"
    channel = _open(tmp_path, encoder)
    assert channel.add(corpus, pixels) == 17


def test_declares_its_modes(tmp_path: Path, encoder: OpenClipEncoder, corpus: list[Element], pixels: Pixels) -> None:
    channel = _open(tmp_path, encoder)
    channel.add(corpus, pixels)
    assert channel.modes == ("default",) and channel.optimize() is False
    assert channel.search("x", k=3, mode="default") == channel.search("x", k=3)
    with pytest.raises(ValueError, match="unknown mode"):
        channel.search("x", k=3, mode="dense")
