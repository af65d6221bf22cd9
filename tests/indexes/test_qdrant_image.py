"""QdrantImageChannel (image.store = "qdrant"): the FAISS channel's results from Qdrant, on Edge and on a server
(qdrant-client local mode): search, in-index filters, deletes, listing for `check`, reopening, a model change."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from factories import IMAGE_KINDS, Pixels, assert_filters_apply_inside_the_search
from PIL import Image
from qdrant_client import QdrantClient

from mmrag.elements import Element
from mmrag.errors import SettingsError, StaleVectors
from mmrag.indexes.base import SearchFilter, channel_kind
from mmrag.indexes.faiss_image import FaissImageChannel
from mmrag.indexes.qdrant_image import QdrantImageChannel, image_collection
from mmrag.indexes.qdrant_store import IMAGE
from mmrag.models.image_encoder import OpenClipEncoder
from mmrag.settings import ImageChannelSettings, Settings, TextChannelSettings

BACKENDS = ["edge", "server"]


class Backend:
    """Opens the channel of one index folder, on Edge or on one qdrant-client local-mode "server"."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.client = QdrantClient(location=":memory:") if kind == "server" else None
        self.text = TextChannelSettings(collection="mmrag_idx_0123abcd")

    def open(self, encoder: object, reset_stale: bool = False, **settings: object) -> QdrantImageChannel:
        settings.setdefault("kinds", list(IMAGE_KINDS))
        cfg = ImageChannelSettings(store="qdrant", **settings)  # type: ignore[arg-type]
        return QdrantImageChannel.open(self.root, cfg, encoder, text=self.text, client=self.client,  # type: ignore[arg-type]
                                       reset_stale=reset_stale)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield Backend(request.param, tmp_path / "idx")


def _vector(encoder: OpenClipEncoder, pixels: Pixels, e: Element) -> np.ndarray:
    return encoder.encode_images([Image.open(io.BytesIO(pixels(e.image or "")))])[0]


def test_same_hits_as_the_faiss_channel(backend: Backend, tmp_path: Path, encoder: OpenClipEncoder,
                                        corpus: list[Element], pixels: Pixels) -> None:
    faiss = FaissImageChannel.open(tmp_path / "faiss_idx", ImageChannelSettings(kinds=list(IMAGE_KINDS)), encoder)
    qdrant = backend.open(encoder)  # exact: plain segments, below exact_max
    assert qdrant.add(corpus, pixels) == faiss.add(corpus, pixels) == 18
    for query in ("a bar chart of revenue", "wafer yield by lot", "a photo"):
        want, got = faiss.search(query, k=10), qdrant.search(query, k=10)
        assert [h.element_id for h in got] == [h.element_id for h in want]
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-4)
        assert all(h.channel == "image" for h in got) and [h.rank for h in got] == list(range(1, 11))
    target = [e for e in corpus if e.image][7]
    top = qdrant.search_vector(_vector(encoder, pixels, target), k=3)[0]
    assert top.element_id == target.id and top.score == pytest.approx(1.0, abs=1e-4)
    assert qdrant.fingerprint() == {**faiss.fingerprint(), "store": "qdrant"}


def test_filters_apply_inside_the_search(backend: Backend, encoder: OpenClipEncoder, corpus: list[Element],
                                         pixels: Pixels) -> None:
    channel = backend.open(encoder)
    channel.add(corpus, pixels)
    assert_filters_apply_inside_the_search(channel, corpus)
    assert channel.search("x", k=5, flt=SearchFilter(docs=["nope.pdf"])) == []


def test_delete_and_list_points(backend: Backend, encoder: OpenClipEncoder, corpus: list[Element],
                                pixels: Pixels) -> None:
    channel = backend.open(encoder)
    channel.add(corpus, pixels)
    embedded = {e.id: e.doc for e in corpus if e.image and e.kind in IMAGE_KINDS}
    assert channel.point_elements() == embedded  # what `mmrag check` compares with the element store
    channel.add([e for e in corpus if e.doc == "doc 0.pdf"], pixels)  # re-adding replaces (same point ids)
    assert channel.count() == 18
    channel.delete_docs(["doc 1.pdf", "unknown.pdf"])
    assert channel.docs() == {"doc 0.pdf", "doc 2.pdf"}
    assert channel.point_elements() == {eid: doc for eid, doc in embedded.items() if doc != "doc 1.pdf"}
    assert len(channel.search("x", k=100)) == 12


def test_reopen_and_a_model_of_another_size(backend: Backend, encoder: OpenClipEncoder, corpus: list[Element],
                                            pixels: Pixels) -> None:
    channel = backend.open(encoder)
    channel.add(corpus, pixels)
    before = channel.search("a diagram", k=10)
    channel.close()
    if backend.kind == "edge":
        assert (backend.root / "qdrant_image" / "edge_config.json").is_file()
    else:
        backend.client = QdrantClient(location=":memory:")  # closing ended the in-memory "server": a new one
        channel = backend.open(encoder)
        channel.add(corpus, pixels)
    again = backend.open(encoder)
    assert again.search("a diagram", k=10) == before
    if backend.kind == "edge":
        again.close()

    class Wider:  # another CLIP: 48-d vectors
        name, dim = "wider", 48

        def fingerprint(self) -> dict[str, object]:
            return {"model": self.name, "pretrained": "random", "dim": self.dim}

    with pytest.raises(StaleVectors, match="reembed"):
        backend.open(Wider())
    fresh = backend.open(Wider(), reset_stale=True)  # `mmrag index --reembed`: an empty collection of the new size
    assert fresh.count() == 0 and fresh.describe()["points"] == 0


def test_server_collection_is_namespaced_beside_the_text_one(tmp_path: Path, encoder: OpenClipEncoder) -> None:
    text = TextChannelSettings(collection="mmrag_reports_0123abcd", shard_number=3, replication_factor=2,
                               on_disk=True)
    client = QdrantClient(location=":memory:")
    channel = QdrantImageChannel.open(tmp_path, ImageChannelSettings(store="qdrant"), encoder, text=text,
                                      client=client)
    assert image_collection(tmp_path, text) == "mmrag_reports_0123abcd_image" == channel.store.collection
    request = channel.store.create_request()  # type: ignore[attr-defined]
    assert request["shard_number"] == 3 and request["replication_factor"] == 2
    assert set(request["vectors_config"]) == {IMAGE} and request["vectors_config"][IMAGE].size == 32
    assert request["sparse_vectors_config"] is None
    params = client.get_collection("mmrag_reports_0123abcd_image").config.params
    assert set(params.vectors) == {IMAGE} and not params.sparse_vectors  # type: ignore[arg-type]
    # no collection given: derived from the index folder, as the text channel derives its own
    assert image_collection(tmp_path / "idx", TextChannelSettings()).endswith("_image")
    assert image_collection(tmp_path / "idx", TextChannelSettings()).startswith("mmrag_idx_")


def test_the_setting_picks_the_backend_from_the_registry() -> None:
    kind = channel_kind("image")
    assert kind.load_class() is FaissImageChannel and kind.load_class("faiss") is FaissImageChannel
    assert kind.load_class("qdrant") is QdrantImageChannel
    assert Settings().image.store == "faiss"
    assert Settings().updated({"image.store": "qdrant"}).image.store == "qdrant"
    with pytest.raises(SettingsError, match="image.store: unknown value 'milvus'; use one of faiss, qdrant"):
        Settings().updated({"image.store": "milvus"})
