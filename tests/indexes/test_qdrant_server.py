"""The Qdrant server backend against qdrant-client's local mode: collection layout, namespacing, batches, retries."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from mmrag.elements import Element, element_id
from mmrag.errors import MMRagError
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.qdrant_server import QdrantUnavailable, ServerTextStore, collection_name, is_transient
from mmrag.indexes.qdrant_store import SparseTerms, TextPoint
from mmrag.indexes.qdrant_text import QdrantTextChannel
from mmrag.settings import Settings, TextChannelSettings

DIM = 16


class HashingEncoder:
    """Bag-of-words hashed into 16 dimensions: deterministic vectors without a model (this file tests storage)."""

    name = "hashing-16"
    dim = DIM

    def encode_documents(
        self, texts: Sequence[str], batch_size: int | None = None, max_tokens: int | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), DIM), np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % DIM] += 1.0
        out += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_documents([text])[0]


class RecordingClient(QdrantClient):
    """A real local-mode client that also keeps the collection and payload-index requests it was given."""

    def __init__(self) -> None:
        super().__init__(location=":memory:")
        self.created: list[dict[str, Any]] = []
        self.payload_indexes: list[tuple[str, Any]] = []
        self.upserts: list[int] = []

    def create_collection(self, collection_name: str, **kwargs: Any) -> bool:  # type: ignore[override]
        self.created.append({"collection_name": collection_name, **kwargs})
        return super().create_collection(collection_name, **kwargs)

    def create_payload_index(self, collection_name: str, field_name: str, field_schema: Any = None,
                             **kwargs: Any) -> Any:  # type: ignore[override]
        self.payload_indexes.append((field_name, field_schema))
        return super().create_payload_index(collection_name, field_name, field_schema, **kwargs)

    def upsert(self, collection_name: str, points: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.upserts.append(len(points))
        return super().upsert(collection_name, points, **kwargs)


class FlakyClient(RecordingClient):
    """The network between us and Qdrant: the first `failures` upserts and counts fail with `error`."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__()
        self.failures = failures
        self.error = error
        self.calls = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error

    def upsert(self, collection_name: str, points: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._maybe_fail()
        return super().upsert(collection_name, points, **kwargs)

    def count(self, collection_name: str, **kwargs: Any) -> Any:  # type: ignore[override]
        self._maybe_fail()
        return super().count(collection_name, **kwargs)


def points(n: int, doc: str = "a.pdf", start: int = 0) -> list[TextPoint]:
    rng = np.random.default_rng(start)
    out = []
    for i in range(start, start + n):
        v = rng.standard_normal(DIM)
        payload = {"element_id": f"{doc}-{i}", "doc": doc, "page": 1 + i % 7, "kind": ("text", "figure")[i % 2]}
        out.append(TextPoint(i, (v / np.linalg.norm(v)).tolist(), SparseTerms([i % 50, 99], [1.0, 0.5]), payload))
    return out


def make(doc: str, page: int, text: str) -> Element:
    bbox = (0.0, 0.0, 10.0, 10.0)
    return Element(id=element_id(f"sha-{doc}", page, "text", bbox), doc=doc, doc_sha256=f"sha-{doc}", page=page,
                   kind="text", bbox=bbox, text=text)


def test_collection_is_created_with_shards_replicas_on_disk_and_payload_indexes() -> None:
    client = RecordingClient()
    settings = TextChannelSettings(shard_number=6, replication_factor=2, on_disk=True, on_disk_payload=True)
    store = ServerTextStore(client, "mmrag_docs", DIM, settings=settings)
    (request,) = client.created  # local mode ignores shards and replicas: assert on what a cluster would receive
    assert request["collection_name"] == "mmrag_docs"
    assert (request["shard_number"], request["replication_factor"], request["on_disk_payload"]) == (6, 2, True)
    dense = request["vectors_config"]["dense"]
    assert (dense.size, dense.distance.value, dense.on_disk) == (DIM, "Cosine", True)
    lex = request["sparse_vectors_config"]["lex"]
    assert lex.modifier.value == "idf" and lex.index.on_disk is True
    assert {f: str(s.value) for f, s in client.payload_indexes} == {"doc": "keyword", "kind": "keyword",
                                                                     "page": "integer"}
    assert store.describe() | {"url": None} == {
        "backend": "server", "url": None, "collection": "mmrag_docs", "points": 0, "shards": 6, "replicas": 2,
        "on_disk": True, "retried": 0,
    }
    # Reopening an existing collection creates nothing.
    ServerTextStore(client, "mmrag_docs", DIM, settings=settings)
    assert len(client.created) == 1


def test_upserts_go_in_batches_and_filters_apply() -> None:
    client = RecordingClient()
    store = ServerTextStore(client, "c", DIM, settings=TextChannelSettings(upsert_batch=100))
    store.upsert(points(250) + points(30, doc="b.pdf", start=1000))
    assert client.upserts == [100, 100, 80]
    assert store.count() == 280 and store.docs() == {"a.pdf", "b.pdf"}
    q = points(1, start=5)[0]
    flt = SearchFilter(docs=["a.pdf"], kinds=["figure"], pages=(2, 3))
    for dense, sparse in ((q.dense, None), (None, q.sparse)):
        got = store.query(dense, sparse, 10, flt)
        assert got and all(eid.startswith("a.pdf-") for eid, _ in got)
        assert all(int(eid.split("-")[1]) % 2 == 1 and 1 + int(eid.split("-")[1]) % 7 in (2, 3) for eid, _ in got)
    with pytest.raises(ValueError, match="one search at a time"):
        store.query(q.dense, q.sparse, 10, None)
    held = store.point_elements()
    assert len(held) == 280 and held["a.pdf-5"] == "a.pdf" and held["b.pdf-1000"] == "b.pdf"
    store.delete_docs(["a.pdf"])
    assert store.docs() == {"b.pdf"} and set(store.point_elements().values()) == {"b.pdf"}


@pytest.mark.parametrize("error", [
    ResponseHandlingException(httpx.ConnectError("connection refused")),
    UnexpectedResponse(503, "Service Unavailable", b"", httpx.Headers()),
    UnexpectedResponse(429, "Too Many Requests", b"", httpx.Headers()),
])
def test_transient_errors_are_retried_with_exponential_back_off(error: Exception) -> None:
    client = FlakyClient(failures=0, error=error)
    slept: list[float] = []
    store = ServerTextStore(client, "c", DIM, settings=TextChannelSettings(upsert_batch=100, retries=3),
                            sleep=slept.append)
    client.failures, client.calls = 2, 0
    store.upsert(points(150))
    # Batch 1 fails twice, then succeeds; batch 2 goes through at once. Nothing is written twice.
    assert client.upserts == [100, 50]
    assert len(slept) == 2 and 0.4 <= slept[0] <= 0.6 and 0.8 <= slept[1] <= 1.2
    assert store.retried == 2
    assert store.count() == 150


def test_a_server_that_stays_down_is_one_clear_error_and_a_bad_request_is_not_retried() -> None:
    down = ResponseHandlingException(httpx.ConnectError("connection refused"))
    client = FlakyClient(failures=0, error=down)
    slept: list[float] = []
    store = ServerTextStore(client, "c", DIM, where="http://qdrant:6333",
                            settings=TextChannelSettings(retries=2), sleep=slept.append)
    client.failures, client.calls = 10, 0
    with pytest.raises(QdrantUnavailable, match="http://qdrant:6333 failed 3 times") as info:
        store.count()
    assert isinstance(info.value, MMRagError) and len(slept) == 2

    bad = UnexpectedResponse(400, "Bad Request", b"wrong vector size", httpx.Headers())
    assert not is_transient(bad)
    client.failures, client.calls, client.error = 1, 0, bad
    slept.clear()
    with pytest.raises(UnexpectedResponse):
        store.count()
    assert slept == []


def test_indexes_sharing_one_cluster_do_not_see_each_other(tmp_path: Path) -> None:
    client = QdrantClient(location=":memory:")
    encoder = HashingEncoder()
    # Two index folders with the same name: derived collections differ, and stay fixed in the settings.
    a_settings, b_settings = TextChannelSettings(), TextChannelSettings()
    a = QdrantTextChannel.open(tmp_path / "team-a" / "idx", a_settings, encoder, client=client)
    b = QdrantTextChannel.open(tmp_path / "team-b" / "idx", b_settings, encoder, client=client)
    assert a_settings.collection.startswith("mmrag_idx_") and b_settings.collection.startswith("mmrag_idx_")
    assert a_settings.collection != b_settings.collection
    assert a_settings.collection == collection_name(tmp_path / "team-a" / "idx")
    assert Settings.from_dict(Settings(text=a_settings).to_dict()).text.collection == a_settings.collection

    a.add([make("shared.pdf", 1, "solar storage capacity in megawatt hours"), make("a.pdf", 1, "wind farms")])
    b.add([make("shared.pdf", 1, "coffee prices in the third quarter")])
    assert a.docs() == {"shared.pdf", "a.pdf"} and b.docs() == {"shared.pdf"}
    assert a.count() == 2 and b.count() == 1
    assert [h.element_id for h in b.search("solar storage", 5)] == [make("shared.pdf", 1, "").id]
    b.delete_docs(["shared.pdf"])
    assert b.count() == 0 and a.docs() == {"shared.pdf", "a.pdf"}
    # An explicit collection is used as given: a third index can share a's collection on purpose.
    c = QdrantTextChannel.open(tmp_path / "other", TextChannelSettings(collection=a_settings.collection), encoder,
                               client=client)
    assert c.count() == 2


def test_collection_name_is_readable_and_safe(tmp_path: Path) -> None:
    name = collection_name(tmp_path / "My Index (2024)!")
    assert name.startswith("mmrag_My_Index_2024_") and len(name.rsplit("_", 1)[1]) == 8
    assert collection_name(tmp_path / "x") == collection_name(tmp_path / "sub" / ".." / "x")
