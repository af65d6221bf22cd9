"""The text channel's embedded backend: a Qdrant Edge shard (the Qdrant engine in-process) in one folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from mmrag.errors import IndexLocked, StaleVectors
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


class EdgeTextStore:
    """Dense + BM25 sparse vectors with payload indexes in a Qdrant Edge shard under `path`.

    An existing shard is loaded (its config checked against the requested dimension), a missing one created.
    Updates go to the shard's WAL at once; `flush()` persists segments; `optimize()` builds HNSW indexes.
    """

    backend = "edge"

    def __init__(self, path: str | Path, dim: int, hnsw_min_points: int | None = None) -> None:
        self.path = Path(path)
        self.dim = dim
        # hnsw_min_points: segments with fewer dense vectors stay plain (scanned) when optimising; None: Edge's own
        # threshold. Qdrant counts it in kilobytes of vector data.
        optimizers = None
        if hnsw_min_points is not None:
            optimizers = qe.EdgeOptimizersConfig(indexing_threshold=max(1, hnsw_min_points * dim * 4 // 1024))
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={LEXICAL: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            optimizers=optimizers,
        )
        if (self.path / "edge_config.json").exists():
            self.shard = self._load(config)
        else:
            self.shard = qe.EdgeShard.create(str(self.path), config)
        self._ensure_payload_indexes()

    def _load(self, config: qe.EdgeConfig) -> qe.EdgeShard:
        try:
            return qe.EdgeShard.load(str(self.path), config)
        except Exception as exc:  # qdrant_edge raises plain Exception with the engine's message
            message = str(exc)
            if "WouldBlock" in message or "lock" in message.lower():
                raise IndexLocked(
                    f"{self.path}: the Qdrant Edge shard is open in another process; close it and retry"
                ) from exc
            if "incompatible" in message.lower():
                raise StaleVectors(
                    f"{self.path}: stored text vectors do not match the current model ({self.dim}-d): {message}; "
                    "run `mmrag index --reembed --index DIR` to rebuild them"
                ) from exc
            raise

    def _ensure_payload_indexes(self) -> None:
        present = set(self.shard.info().payload_schema)
        wanted = {f: qe.PayloadSchemaType.Keyword for f in KEYWORD_FIELDS}
        wanted.update({f: qe.PayloadSchemaType.Integer for f in INTEGER_FIELDS})
        for field, schema in wanted.items():
            if field not in present:
                self.shard.update(qe.UpdateOperation.create_field_index(field, schema))

    def upsert(self, points: Sequence[TextPoint]) -> None:
        if not points:
            return
        batch = []
        for p in points:
            vector: dict[str, Any] = {DENSE: p.dense}
            if p.sparse is not None and p.sparse.indices:  # no empty sparse vectors: plain_points() counts them
                vector[LEXICAL] = qe.SparseVector(p.sparse.indices, p.sparse.values)
            batch.append(qe.Point(id=p.id, vector=vector, payload=p.payload))
        self.shard.update(qe.UpdateOperation.upsert_points(batch))

    def query(
        self,
        dense: list[float] | None,
        sparse: SparseTerms | None,
        k: int,
        flt: SearchFilter | None,
        prefetch_k: int,
    ) -> list[tuple[str, float]]:
        qfilter = edge_filter(flt)
        searches = []
        if dense is not None:
            searches.append(qe.Query.Nearest(dense, using=DENSE))
        if sparse is not None and sparse.indices:
            searches.append(qe.Query.Nearest(qe.SparseVector(sparse.indices, sparse.values), using=LEXICAL))
        if not searches:
            return []
        if len(searches) == 1:
            request = qe.QueryRequest(limit=k, query=searches[0], filter=qfilter, with_payload=["element_id"])
        else:
            limit = max(k, prefetch_k)
            request = qe.QueryRequest(
                limit=k,
                query=qe.Fusion.Rrf(k=RRF_K),
                prefetches=[qe.Prefetch(limit=limit, query=q, filter=qfilter) for q in searches],
                with_payload=["element_id"],
            )
        return [(str(h.payload["element_id"]), float(h.score)) for h in self.shard.query(request)]

    def delete_docs(self, docs: Sequence[str]) -> None:
        docs = list(docs)
        if not docs:
            return
        condition = qe.FieldCondition(key="doc", match=qe.MatchAny(any=docs))
        self.shard.update(qe.UpdateOperation.delete_points_by_filter(qe.Filter(must=[condition])))

    def docs(self) -> set[str]:
        # An exact facet still lists values whose points were all deleted, with count 0.
        response = self.shard.facet(qe.FacetRequest(key="doc", limit=_FACET_LIMIT, exact=True))
        return {str(h.value) for h in response.hits if h.count > 0}

    def count(self) -> int:
        return int(self.shard.count(qe.CountRequest(exact=True)))

    def plain_points(self) -> int:
        """Dense vectors not yet in an HNSW index (in plain segments, searched by a scan until `optimize()`)."""
        info = self.shard.info()
        # indexed_vectors_count also counts every sparse vector (always in an inverted index): take those out.
        has_sparse = qe.Filter(must=[qe.HasVectorCondition(LEXICAL)])
        sparse = int(self.shard.count(qe.CountRequest(exact=True, filter=has_sparse)))
        return max(0, int(info.points_count) - (int(info.indexed_vectors_count) - sparse))

    def optimize(self) -> bool:
        """Merge small segments and build HNSW where a segment outgrew the indexing threshold.

        Edge runs no background optimizer: until this is called, searches scan plain segments (at 100k points
        about 5x slower than HNSW, but building HNSW for 100k points takes minutes on two cores).
        """
        return bool(self.shard.optimize())

    def flush(self) -> None:
        self.shard.flush()

    def close(self) -> None:
        if self.shard is None:
            return
        self.shard.flush()
        self.shard.close()
        self.shard = None  # type: ignore[assignment]

    def describe(self) -> dict[str, Any]:
        info = self.shard.info()
        return {
            "backend": self.backend,
            "path": str(self.path),
            "points": int(info.points_count),
            "segments": int(info.segments_count),
            "indexed_vectors": int(info.indexed_vectors_count),
            "plain_points": self.plain_points(),
        }


def edge_filter(flt: SearchFilter | None) -> qe.Filter | None:
    """A SearchFilter as a Qdrant Edge payload filter."""
    return payload_filter(flt, qe, qe.RangeFloat)
