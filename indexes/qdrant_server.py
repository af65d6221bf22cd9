"""The Qdrant channels' server backend: a Qdrant server or cluster collection through qdrant-client.

The same layouts as the Edge shard (text: named dense vector and sparse "lex" with the IDF modifier; image: one
named dense vector "image"; payload indexes on doc, kind and page); qdrant-client's local mode
(`location=":memory:"` or `path=`) speaks the same API and is what the tests run against.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from mmrag.errors import MMRagError, StaleVectors
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.qdrant_store import (
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    TEXT_LAYOUT,
    Layout,
    SparseTerms,
    TextPoint,
    one_search,
    payload_filter,
)
from mmrag.settings import TextChannelSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

_FACET_LIMIT = 1_000_000
# HTTP statuses worth retrying: rate limiting, and a node that is restarting, overloaded or behind a proxy.
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0


class QdrantUnavailable(MMRagError):
    """The Qdrant server kept failing after the configured retries."""


def collection_name(index_dir: str | Path) -> str:
    """The default collection of an index: "mmrag_<folder name>_<8 hex of its absolute path>".

    The folder name makes it readable in the cluster's dashboard; the hash keeps two indexes that share a folder
    name (every `idx`) apart. It is fixed in the index's settings when the index is created, so moving the folder
    or opening it from another machine's mount keeps the same collection.
    """
    path = Path(index_dir).resolve()
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", path.name).strip("_")[:48] or "index"
    return f"mmrag_{slug}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def is_transient(exc: BaseException) -> bool:
    """Network trouble or an overloaded node (retry), as opposed to a bad request (fail at once)."""
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in _TRANSIENT_STATUS
    if isinstance(exc, (ResponseHandlingException, ConnectionError, TimeoutError)):
        return True
    try:
        import httpx

        if isinstance(exc, httpx.TransportError):
            return True
    except ImportError:  # pragma: no cover - httpx comes with qdrant-client
        pass
    try:
        import grpc

        if isinstance(exc, grpc.RpcError):
            code = exc.code() if callable(getattr(exc, "code", None)) else None
            return code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.RESOURCE_EXHAUSTED)
    except ImportError:  # pragma: no cover
        pass
    return False


class ServerTextStore:
    """A collection in Qdrant reached through a QdrantClient; created with its layout (text by default) when missing.

    Every call is retried on transient errors with exponential back-off (BACKOFF_BASE_S doubling, with jitter,
    up to settings.retries attempts); upserts go in batches of settings.upsert_batch points. All writes are
    idempotent (upsert by id, delete by filter), so a retried request cannot duplicate anything.
    """

    backend = "server"

    def __init__(
        self, client: QdrantClient, collection: str, dim: int, where: str = "",
        settings: TextChannelSettings | None = None, sleep: Callable[[float], None] = time.sleep,
        layout: Layout = TEXT_LAYOUT, reset_stale: bool = False,
    ) -> None:
        """reset_stale: replace a collection of another layout (vectors of another size) by an empty one."""
        self.client = client
        self.collection = collection
        self.dim = dim
        self.layout = layout
        self.where = where
        self.settings = settings or TextChannelSettings()
        self.sleep = sleep
        self.retried = 0  # transient failures absorbed so far (shown by describe())
        if self._call(client.collection_exists, collection):
            try:
                self._check_layout()
                return
            except StaleVectors:
                if not reset_stale:
                    raise
                log.info("Qdrant collection %s: dropping vectors of another layout", collection)
                self._call(client.delete_collection, collection)
        self._create()

    @classmethod
    def connect(
        cls, url: str, collection: str, dim: int, settings: TextChannelSettings | None = None,
        layout: Layout = TEXT_LAYOUT, reset_stale: bool = False,
    ) -> ServerTextStore:
        """A store on the Qdrant at `url`; the API key, if any, comes from $QDRANT_API_KEY."""
        timeout = (settings or TextChannelSettings()).timeout_s
        client = QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY"), timeout=timeout)
        return cls(client, collection, dim, where=url, settings=settings, layout=layout, reset_stale=reset_stale)

    @classmethod
    def local(
        cls, location: str, collection: str, dim: int, settings: TextChannelSettings | None = None,
        layout: Layout = TEXT_LAYOUT, reset_stale: bool = False,
    ) -> ServerTextStore:
        """qdrant-client's local mode: ":memory:" or a folder (for tests; slow past a few thousand points)."""
        client = QdrantClient(location=":memory:") if location == ":memory:" else QdrantClient(path=location)
        return cls(client, collection, dim, where=f"local:{location}", settings=settings, layout=layout,
                   reset_stale=reset_stale)

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(*args, **kwargs), retried on transient errors with exponential back-off and jitter."""
        attempts = max(0, self.settings.retries) + 1
        for attempt in range(attempts):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt + 1 == attempts:
                    raise QdrantUnavailable(
                        f"Qdrant at {self.where or 'the client'} failed {attempts} times ({exc}); "
                        "check that the server is up and reachable, then run the same command again"
                    ) from exc
                delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt) * random.uniform(0.8, 1.2)
                self.retried += 1
                log.warning("Qdrant %s failed (%s); retry %d/%d in %.1f s", getattr(fn, "__name__", "call"), exc,
                            attempt + 1, attempts - 1, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def vector_params(self) -> dict[str, models.VectorParams]:
        """The collection's dense vectors by name: the layout's one dense vector (cosine)."""
        return {self.layout.dense: models.VectorParams(size=self.dim, distance=models.Distance.COSINE,
                                                       on_disk=self.settings.on_disk)}

    def create_request(self) -> dict[str, Any]:
        """The create_collection arguments: the layout, shards, replicas and on-disk settings from the settings."""
        cfg = self.settings
        sparse = self.layout.sparse
        return {
            "collection_name": self.collection,
            "vectors_config": self.vector_params(),
            "sparse_vectors_config": {
                sparse: models.SparseVectorParams(
                    modifier=models.Modifier.IDF, index=models.SparseIndexParams(on_disk=cfg.on_disk)
                )
            } if sparse else None,
            "shard_number": cfg.shard_number,
            "replication_factor": cfg.replication_factor,
            "on_disk_payload": cfg.on_disk_payload,
            "timeout": cfg.timeout_s,
        }

    def _create(self) -> None:
        self._call(self.client.create_collection, **self.create_request())
        schemas = {f: models.PayloadSchemaType.KEYWORD for f in KEYWORD_FIELDS}
        schemas.update({f: models.PayloadSchemaType.INTEGER for f in INTEGER_FIELDS})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode warns that payload indexes have no effect there
            for field, schema in schemas.items():
                self._call(self.client.create_payload_index, self.collection, field, schema, wait=True)

    def _check_layout(self) -> None:
        params = self._call(self.client.get_collection, self.collection).config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {}
        dense = vectors.get(self.layout.dense)
        sparse_ok = not self.layout.sparse or self.layout.sparse in (params.sparse_vectors or {})
        if dense is None or dense.size != self.dim or not sparse_ok:
            size = dense.size if dense is not None else None
            raise StaleVectors(
                f"Qdrant collection {self.collection!r} has another layout ({self.layout.dense!r} size {size}, "
                f"want {self.dim}, "
                f"sparse {sorted(params.sparse_vectors or {})}); run `mmrag index --reembed --index DIR` "
                "or choose another text.collection"
            )

    def upsert(self, points: Sequence[TextPoint]) -> None:
        if not points:
            return
        structs = []
        for p in points:
            vector: dict[str, Any] = {self.layout.dense: p.dense}
            if self.layout.sparse and p.sparse is not None and p.sparse.indices:
                vector[self.layout.sparse] = models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)
            structs.append(models.PointStruct(id=p.id, vector=vector, payload=p.payload))
        step = max(1, self.settings.upsert_batch)
        for start in range(0, len(structs), step):
            self._call(self.client.upsert, self.collection, points=structs[start : start + step], wait=True)

    def query(
        self, dense: list[float] | None, sparse: SparseTerms | None, k: int, flt: SearchFilter | None
    ) -> list[tuple[str, float]]:
        if k <= 0 or not one_search(dense, sparse):
            return []
        vector: Any
        if dense is not None:
            vector, using = dense, self.layout.dense
        elif self.layout.sparse and sparse is not None:
            vector, using = models.SparseVector(indices=sparse.indices, values=sparse.values), self.layout.sparse
        else:
            return []
        response = self._call(
            self.client.query_points, self.collection, query=vector, using=using, query_filter=server_filter(flt),
            limit=k, with_payload=["element_id"],
        )
        return [(str(p.payload["element_id"]), float(p.score)) for p in response.points if p.payload]

    def delete_docs(self, docs: Sequence[str]) -> None:
        docs = list(docs)
        if not docs:
            return
        condition = models.FieldCondition(key="doc", match=models.MatchAny(any=docs))
        selector = models.FilterSelector(filter=models.Filter(must=[condition]))
        self._call(self.client.delete, self.collection, points_selector=selector, wait=True)

    def docs(self) -> set[str]:
        response = self._call(self.client.facet, self.collection, key="doc", limit=_FACET_LIMIT, exact=True)
        return {str(h.value) for h in response.hits if h.count > 0}

    def count(self) -> int:
        return int(self._call(self.client.count, self.collection, exact=True).count)

    def point_elements(self) -> dict[str, str]:
        """Element id -> document of every point (for `mmrag check`), scrolled in pages."""
        found: dict[str, str] = {}
        offset = None
        while True:
            records, offset = self._call(self.client.scroll, self.collection, limit=4096, offset=offset,
                                         with_payload=["element_id", "doc"], with_vectors=False)
            for r in records:
                payload = r.payload or {}
                found[str(payload.get("element_id"))] = str(payload.get("doc"))
            if offset is None:
                return found

    def plain_points(self) -> int:
        """0: a Qdrant server builds its HNSW indexes in the background."""
        return 0

    def optimize(self) -> bool:
        """Nothing to do: a Qdrant server optimizes in the background."""
        return False

    def flush(self) -> None:
        """Nothing to do: upserts and deletes wait for the server to apply them."""

    def close(self) -> None:
        self.client.close()

    def describe(self) -> dict[str, Any]:
        cfg = self.settings
        return {"backend": self.backend, "url": self.where, "collection": self.collection, "points": self.count(),
                "shards": cfg.shard_number, "replicas": cfg.replication_factor, "on_disk": cfg.on_disk,
                "retried": self.retried}


def server_filter(flt: SearchFilter | None) -> models.Filter | None:
    """A SearchFilter as a qdrant-client payload filter."""
    return payload_filter(flt, models, models.Range)
