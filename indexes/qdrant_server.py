"""The text channel's server backend: a Qdrant server or cluster collection through qdrant-client.

The same layout as the Edge shard (named dense vector, sparse "lex" with the IDF modifier, payload indexes on
doc, kind and page); qdrant-client's local mode (`location=":memory:"` or `path=`) speaks the same API and is
what the tests run against.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from mmrag.errors import StaleVectors
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.qdrant_store import (
    DENSE,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    LEXICAL,
    RRF_K,
    SparseTerms,
    TextPoint,
    payload_filter,
)

_FACET_LIMIT = 1_000_000


class ServerTextStore:
    """A collection in Qdrant reached through a QdrantClient; created with the text layout when missing."""

    backend = "server"

    def __init__(self, client: QdrantClient, collection: str, dim: int, where: str = "") -> None:
        self.client = client
        self.collection = collection
        self.dim = dim
        self.where = where
        if client.collection_exists(collection):
            self._check_layout()
        else:
            self._create()

    @classmethod
    def connect(cls, url: str, collection: str, dim: int) -> ServerTextStore:
        """A store on the Qdrant at `url`; the API key, if any, comes from $QDRANT_API_KEY."""
        client = QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY"))
        return cls(client, collection, dim, where=url)

    @classmethod
    def local(cls, location: str, collection: str, dim: int) -> ServerTextStore:
        """qdrant-client's local mode: ":memory:" or a folder (for tests; slow past a few thousand points)."""
        client = QdrantClient(location=":memory:") if location == ":memory:" else QdrantClient(path=location)
        return cls(client, collection, dim, where=f"local:{location}")

    def _create(self) -> None:
        self.client.create_collection(
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=self.dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={LEXICAL: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        schemas = {f: models.PayloadSchemaType.KEYWORD for f in KEYWORD_FIELDS}
        schemas.update({f: models.PayloadSchemaType.INTEGER for f in INTEGER_FIELDS})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode warns that payload indexes have no effect there
            for field, schema in schemas.items():
                self.client.create_payload_index(self.collection, field, schema)

    def _check_layout(self) -> None:
        params = self.client.get_collection(self.collection).config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {}
        dense = vectors.get(DENSE)
        if dense is None or dense.size != self.dim or LEXICAL not in (params.sparse_vectors or {}):
            size = dense.size if dense is not None else None
            raise StaleVectors(
                f"Qdrant collection {self.collection!r} has another layout (dense size {size}, want {self.dim}, "
                f"sparse {sorted(params.sparse_vectors or {})}); run `mmrag index --reembed --index DIR` "
                "or choose another text.collection"
            )

    def upsert(self, points: Sequence[TextPoint]) -> None:
        if not points:
            return
        structs = []
        for p in points:
            vector: dict[str, Any] = {DENSE: p.dense}
            if p.sparse is not None:
                vector[LEXICAL] = models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)
            structs.append(models.PointStruct(id=p.id, vector=vector, payload=p.payload))
        self.client.upsert(self.collection, points=structs, wait=True)

    def query(
        self,
        dense: list[float] | None,
        sparse: SparseTerms | None,
        k: int,
        flt: SearchFilter | None,
        prefetch_k: int,
    ) -> list[tuple[str, float]]:
        qfilter = server_filter(flt)
        searches: list[tuple[Any, str]] = []
        if dense is not None:
            searches.append((dense, DENSE))
        if sparse is not None and sparse.indices:
            searches.append((models.SparseVector(indices=sparse.indices, values=sparse.values), LEXICAL))
        if not searches:
            return []
        if len(searches) == 1:
            vector, using = searches[0]
            response = self.client.query_points(
                self.collection, query=vector, using=using, query_filter=qfilter, limit=k,
                with_payload=["element_id"],
            )
        else:
            limit = max(k, prefetch_k)
            response = self.client.query_points(
                self.collection,
                prefetch=[models.Prefetch(query=v, using=u, filter=qfilter, limit=limit) for v, u in searches],
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                limit=k,
                with_payload=["element_id"],
            )
        return [(str(p.payload["element_id"]), float(p.score)) for p in response.points if p.payload]

    def delete_docs(self, docs: Sequence[str]) -> None:
        docs = list(docs)
        if not docs:
            return
        condition = models.FieldCondition(key="doc", match=models.MatchAny(any=docs))
        self.client.delete(
            self.collection, points_selector=models.FilterSelector(filter=models.Filter(must=[condition])), wait=True
        )

    def docs(self) -> set[str]:
        response = self.client.facet(self.collection, key="doc", limit=_FACET_LIMIT, exact=True)
        return {str(h.value) for h in response.hits if h.count > 0}

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def optimize(self) -> bool:
        """Nothing to do: a Qdrant server optimizes in the background."""
        return False

    def flush(self) -> None:
        """Nothing to do: upserts and deletes wait for the server to apply them."""

    def close(self) -> None:
        self.client.close()

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "url": self.where, "collection": self.collection, "points": self.count()}


def server_filter(flt: SearchFilter | None) -> models.Filter | None:
    """A SearchFilter as a qdrant-client payload filter."""
    return payload_filter(flt, models, models.Range)
