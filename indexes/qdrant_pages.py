"""The pages channel: late-interaction page retrieval (ColPali / ColQwen2) beside the text and image channels.

Each page render becomes many vectors (one per image patch and prompt token, ~700 × 128-d for ColQwen2), stored
as one Qdrant **multivector** scored by MaxSim (for each query vector its best page vector, summed), the
`doc`/`kind`/`page` payload indexed like the other channels so filters run inside the engine. Beside it each page
keeps one **pooled** vector (the normalised mean of its vectors, cosine, HNSW) for the optional first stage.

Where: a collection of its own, like the image channel's —
  Edge (default)  the shard `<index>/qdrant_pages/` (own WAL lock and reader copies);
  server/cluster  the collection `<text.collection>_pages` at `text.qdrant_url`, with the text channel's shard,
                  replication, on-disk, retry and timeout settings.

What keeps it affordable (settings `[pages]`): token pooling at index time (`pool_factor`), float16 storage
(`datatype`, the default), a quantised copy scanned first (`quantization`), and `two_stage` search: the pooled
vectors pick `first_stage_k` candidates through HNSW, MaxSim ranks them; without it every page is scanned. The
multivector itself gets no HNSW graph (m = 0): a graph over hundreds of vectors per page costs more to build
than the scan it saves, and the first stage is what makes large indexes fast.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmrag.crash import kill_point
from mmrag.elements import ChannelHit, Element
from mmrag.errors import StaleVectors
from mmrag.indexes.base import DEFAULT_MODE, Channel, PixelReader, SearchFilter
from mmrag.indexes.image_embed import decoded_chunks
from mmrag.indexes.qdrant_edge import EdgeTextStore, edge_filter
from mmrag.indexes.qdrant_server import ServerTextStore, server_filter
from mmrag.indexes.qdrant_store import Layout, StoreBacked
from mmrag.models.late_interaction import LateInteractionEncoder, pool_tokens, pooled_vector
from mmrag.settings import PagesChannelSettings, Settings, TextChannelSettings

log = logging.getLogger(__name__)

PAGES = "pages"  # the named multivector (MaxSim)
POOLED = "pooled"  # the named single vector per page (cosine), for the first stage
PAGES_LAYOUT = Layout(POOLED, None, "pages")
EDGE_FOLDER = "qdrant_pages"
COLLECTION_SUFFIX = "_pages"
KINDS = ("page",)  # what the channel embeds: page renders
ENCODE_CHUNK = 32  # page images decoded and held in memory at once while adding
# A page is ~90k floats: far fewer per server request than the text channel's upsert_batch.
SERVER_UPSERT_PAGES = 16
# Edge has no background optimiser: `mmrag index` merges segments and builds the pooled vectors' HNSW once
# this many pages (and text.optimize_threshold of them) sit in plain segments.
OPTIMIZE_MIN_PAGES = 2000


@dataclass(frozen=True)
class StorageOptions:
    """How Qdrant keeps the page multivectors: storage datatype and an optional quantised copy."""

    datatype: str = "float16"  # float32 | float16
    quantization: str = "none"  # none | int8 | binary

    @classmethod
    def from_settings(cls, cfg: PagesChannelSettings) -> StorageOptions:
        return cls(cfg.datatype, cfg.quantization)


@dataclass
class PagePoint:
    """One page as stored: point id, its vectors (tokens × dim), its pooled vector, payload."""

    id: int
    vectors: np.ndarray
    pooled: np.ndarray
    payload: dict[str, Any]


def pages_collection(index_dir: str | Path, text: TextChannelSettings) -> str:
    """The server collection of an index's page vectors: the text channel's collection name + "_pages"."""
    from mmrag.indexes.qdrant_server import collection_name

    return f"{text.collection or collection_name(index_dir)}{COLLECTION_SUFFIX}"


# ---------------------------------------------------------------------------------------------
# stores: the Qdrant text stores with a multivector layout
# ---------------------------------------------------------------------------------------------


class EdgePagesStore(EdgeTextStore):
    """Page multivectors (MaxSim) + pooled vectors in a Qdrant Edge shard; locking, reader copies, deletes,
    counts and listing as for the text channel's shard."""

    def __init__(self, path: str | Path, dim: int, options: StorageOptions = StorageOptions(), *,
                 read_only: bool = False, reset_stale: bool = False) -> None:
        self.options = options
        super().__init__(path, dim, read_only=read_only, layout=PAGES_LAYOUT, reset_stale=reset_stale)

    def vector_params(self) -> dict[str, Any]:
        import qdrant_edge as qe

        quantization = {
            "none": None,
            "int8": qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, always_ram=True),
            "binary": qe.BinaryQuantizationConfig(always_ram=True),
        }[self.options.quantization]
        datatype = {"float32": qe.VectorStorageDatatype.Float32,
                    "float16": qe.VectorStorageDatatype.Float16}[self.options.datatype]
        return {
            PAGES: qe.EdgeVectorParams(
                size=self.dim, distance=qe.Distance.Dot,
                multivector_config=qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim), datatype=datatype,
                quantization_config=quantization,
                hnsw_config=qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000)),
            POOLED: qe.EdgeVectorParams(size=self.dim, distance=qe.Distance.Cosine),
        }

    def upsert_pages(self, points: Sequence[PagePoint]) -> None:
        import qdrant_edge as qe

        if not points:
            return
        # Edge takes numpy arrays as they are: no Python list of ~90k floats per page
        batch = [qe.Point(id=p.id, vector={PAGES: _array(p.vectors), POOLED: _array(p.pooled).reshape(-1)},
                          payload=p.payload) for p in points]
        self._update(qe.UpdateOperation.upsert_points(batch))
        kill_point("embed")

    def query_pages(self, vectors: np.ndarray, pooled: np.ndarray | None, k: int, flt: SearchFilter | None,
                    first_stage_k: int = 0) -> list[tuple[str, float]]:
        """(element_id, MaxSim score) best first; with `pooled`, MaxSim over the `first_stage_k` pages nearest
        to it only."""
        import qdrant_edge as qe

        if k <= 0 or len(vectors) == 0:
            return []
        flt_ = edge_filter(flt)
        prefetches = None
        if pooled is not None:
            prefetches = [qe.Prefetch(limit=max(k, first_stage_k), filter=flt_,
                                      query=qe.Query.Nearest(_array(pooled).reshape(-1), using=POOLED))]
        params = None
        if self.options.quantization != "none":
            params = qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=True))
        request = qe.QueryRequest(limit=k, query=qe.Query.Nearest(_array(vectors), using=PAGES), prefetches=prefetches,
                                  filter=flt_, params=params, with_payload=["element_id"])
        return [(str(h.payload["element_id"]), float(h.score)) for h in self.shard.query(request)]

    def plain_points(self) -> int:
        """Pages in plain segments (Edge counts every named vector of an optimised segment as indexed)."""
        info = self.shard.info()
        return max(0, int(info.points_count) - int(info.indexed_vectors_count) // 2)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "datatype": self.options.datatype, "quantization": self.options.quantization}


class ServerPagesStore(ServerTextStore):
    """Page multivectors (MaxSim) + pooled vectors in a collection on a Qdrant server or cluster (or
    qdrant-client's local mode); retries and deletes as for the text channel's collection."""

    def __init__(self, client: Any, collection: str, dim: int, options: StorageOptions = StorageOptions(), *,
                 where: str = "", settings: TextChannelSettings | None = None, reset_stale: bool = False) -> None:
        self.options = options
        super().__init__(client, collection, dim, where=where, settings=settings, layout=PAGES_LAYOUT,
                         reset_stale=reset_stale)

    @classmethod
    def connect_pages(cls, url: str, collection: str, dim: int, options: StorageOptions,
                      settings: TextChannelSettings | None = None, reset_stale: bool = False) -> ServerPagesStore:
        """A store on the Qdrant at `url`; the API key, if any, comes from $QDRANT_API_KEY."""
        import os

        from qdrant_client import QdrantClient

        timeout = (settings or TextChannelSettings()).timeout_s
        client = QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY"), timeout=timeout)
        return cls(client, collection, dim, options, where=url, settings=settings, reset_stale=reset_stale)

    @classmethod
    def local_pages(cls, location: str, collection: str, dim: int, options: StorageOptions,
                    settings: TextChannelSettings | None = None, reset_stale: bool = False) -> ServerPagesStore:
        """qdrant-client's local mode: ":memory:" or a folder (for tests)."""
        from qdrant_client import QdrantClient

        client = QdrantClient(location=":memory:") if location == ":memory:" else QdrantClient(path=location)
        return cls(client, collection, dim, options, where=f"local:{location}", settings=settings,
                   reset_stale=reset_stale)

    def vector_params(self) -> dict[str, Any]:
        from qdrant_client import models

        quantization = {
            "none": None,
            "int8": models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, always_ram=True)),
            "binary": models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True)),
        }[self.options.quantization]
        on_disk = self.settings.on_disk
        return {
            PAGES: models.VectorParams(
                size=self.dim, distance=models.Distance.DOT, on_disk=on_disk,
                multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
                datatype=models.Datatype(self.options.datatype), quantization_config=quantization,
                hnsw_config=models.HnswConfigDiff(m=0)),
            POOLED: models.VectorParams(size=self.dim, distance=models.Distance.COSINE, on_disk=on_disk),
        }

    def _check_layout(self) -> None:
        params = self._call(self.client.get_collection, self.collection).config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {}
        pages, pooled = vectors.get(PAGES), vectors.get(POOLED)
        datatype = getattr(getattr(pages, "datatype", None), "value", None) or "float32"
        quantization = getattr(pages, "quantization_config", None)
        kind = ("none" if quantization is None else "binary" if getattr(quantization, "binary", None) else "int8")
        if (pages is None or pooled is None or pages.size != self.dim or pages.multivector_config is None
                or datatype != self.options.datatype or kind != self.options.quantization):
            raise StaleVectors(
                f"Qdrant collection {self.collection!r} holds page vectors of another layout (size "
                f"{getattr(pages, 'size', None)}, datatype {datatype}, quantization {kind}; want {self.dim}, "
                f"{self.options.datatype}, {self.options.quantization}); run `mmrag index --reembed --index DIR`"
            )

    def upsert_pages(self, points: Sequence[PagePoint]) -> None:
        from qdrant_client import models

        structs = [models.PointStruct(id=p.id, vector={PAGES: _rows(p.vectors), POOLED: _row(p.pooled)},
                                      payload=p.payload) for p in points]
        step = max(1, min(self.settings.upsert_batch, SERVER_UPSERT_PAGES))
        for start in range(0, len(structs), step):
            self._call(self.client.upsert, self.collection, points=structs[start : start + step], wait=True)

    def query_pages(self, vectors: np.ndarray, pooled: np.ndarray | None, k: int, flt: SearchFilter | None,
                    first_stage_k: int = 0) -> list[tuple[str, float]]:
        from qdrant_client import models

        if k <= 0 or len(vectors) == 0:
            return []
        flt_ = server_filter(flt)
        prefetch = None
        if pooled is not None:
            prefetch = [models.Prefetch(query=_row(pooled), using=POOLED, limit=max(k, first_stage_k), filter=flt_)]
        params = None
        if self.options.quantization != "none":
            params = models.SearchParams(quantization=models.QuantizationSearchParams(rescore=True))
        with warnings.catch_warnings():  # local mode (tests) says it scans exactly whatever the params
            warnings.filterwarnings("ignore", message="Local mode performs exact")
            response = self._call(self.client.query_points, self.collection, query=_rows(vectors), using=PAGES,
                                  prefetch=prefetch, query_filter=flt_, search_params=params, limit=k,
                                  with_payload=["element_id"])
        return [(str(p.payload["element_id"]), float(p.score)) for p in response.points if p.payload]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "datatype": self.options.datatype, "quantization": self.options.quantization}


def _array(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _rows(vectors: np.ndarray) -> list[list[float]]:
    return np.asarray(vectors, dtype=np.float32).tolist()


def _row(vector: np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).reshape(-1).tolist()


# ---------------------------------------------------------------------------------------------
# the channel
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PagesQuery:
    """A query as the pages channel searches it: its vectors (tokens × dim), encoded once."""

    text: str
    vectors: np.ndarray
    mode: str | None = None


class QdrantPagesChannel(StoreBacked, Channel):
    """Late-interaction page retrieval: page renders embedded by a ColPali/ColQwen2 encoder, MaxSim in Qdrant."""

    name = "pages"

    def __init__(self, store: Any, settings: PagesChannelSettings, encoder: LateInteractionEncoder,
                 text: TextChannelSettings | None = None) -> None:
        self.store = store  # EdgePagesStore or ServerPagesStore
        self.settings = settings
        self.encoder = encoder
        self.dim = int(encoder.dim)
        self.text = text or TextChannelSettings()

    @classmethod
    def from_settings(cls, index_dir: Path, settings: Settings, encoder: LateInteractionEncoder, *,
                      reset_stale: bool = False, read_only: bool = False) -> QdrantPagesChannel:
        """The channel as `Settings` configure it: in the Qdrant the text channel uses (Edge or text.qdrant_url)."""
        return cls.open(index_dir, settings.pages, encoder, text=settings.text, reset_stale=reset_stale,
                        read_only=read_only)

    @classmethod
    def open(
        cls, index_dir: str | Path, settings: PagesChannelSettings, encoder: LateInteractionEncoder, *,
        text: TextChannelSettings | None = None, client: Any = None, location: str | None = None,
        reset_stale: bool = False, read_only: bool = False,
    ) -> QdrantPagesChannel:
        """The pages channel of an index. Backend as for the image channel in Qdrant: `client` (a ready
        QdrantClient), `location` (qdrant-client local mode) or `text.qdrant_url` → the collection
        `pages_collection(index_dir, text)`; otherwise a Qdrant Edge shard in `<index_dir>/qdrant_pages`
        (read_only: a private copy). reset_stale: replace vectors of another layout by an empty collection."""
        text = text or TextChannelSettings()
        dim = int(encoder.dim)
        options = StorageOptions.from_settings(settings)
        store: Any
        if client is not None or location is not None or text.qdrant_url:
            name = pages_collection(index_dir, text)
            if client is not None:
                store = ServerPagesStore(client, name, dim, options, where="client", settings=text,
                                         reset_stale=reset_stale)
            elif location is not None:
                store = ServerPagesStore.local_pages(location, name, dim, options, text, reset_stale=reset_stale)
            else:
                store = ServerPagesStore.connect_pages(str(text.qdrant_url), name, dim, options, text,
                                                       reset_stale=reset_stale)
        else:
            store = EdgePagesStore(Path(index_dir) / EDGE_FOLDER, dim, options, read_only=read_only,
                                   reset_stale=reset_stale)
        return cls(store, settings, encoder, text)

    # writing --------------------------------------------------------------------------------
    @staticmethod
    def holds(element: Element) -> bool:
        """Whether an element gets vectors here: page renders (what `mmrag check` expects to find)."""
        return element.kind in KINDS and bool(element.image)

    def add(self, elements: Sequence[Element], read_pixels: PixelReader) -> int:
        """Embed the page renders among the elements; returns how many pages were stored.

        A missing or undecodable render loses that page (a warning), not the document.
        """
        pages = list({e.id: e for e in elements if self.holds(e)}.values())
        added = 0
        for kept, images in decoded_chunks(pages, read_pixels, ENCODE_CHUNK, "pages"):
            added += self.add_vectors(kept, self.encoder.encode_pages(images))
        return added

    def add_vectors(self, elements: Sequence[Element], multivectors: Sequence[np.ndarray]) -> int:
        """Store pages' vectors (one (tokens, dim) array per element, in order; same ids are replaced), pooled
        by `pool_factor` first; returns how many."""
        points = []
        for e, vectors in zip(elements, multivectors):
            vectors = pool_tokens(np.asarray(vectors, dtype=np.float32), self.settings.pool_factor)
            points.append(PagePoint(e.point_id, vectors, pooled_vector(vectors),
                                    {"element_id": e.id, "doc": e.doc, "page": int(e.page), "kind": e.kind}))
        self.store.upsert_pages(points)
        return len(points)

    def delete_docs(self, docs: Iterable[str]) -> None:
        self.store.delete_docs(sorted(set(docs)))

    # reading --------------------------------------------------------------------------------
    def encode_query(
        self, query: str, mode: str | None = None, *, lexical_terms: str = "", dense_terms: str = "",
    ) -> PagesQuery:
        """The query's vectors, once (the model runs here); `search_all` reuses them."""
        if mode is not None:
            self._check_mode(mode)
        if not query.strip():
            return PagesQuery(query, np.zeros((0, self.dim), np.float32), mode)
        return PagesQuery(query, self.encoder.encode_queries([query])[0], mode)

    def search_all(self, query: Any, k: int, flt: SearchFilter | None = None) -> dict[str, list[ChannelHit]]:
        encoded = query if isinstance(query, PagesQuery) else self.encode_query(query.text, query.mode)
        return {self.name: self.search_vectors(encoded.vectors, k, flt)}

    def search(self, query: str, k: int, flt: SearchFilter | None = None, *, mode: str = DEFAULT_MODE
               ) -> list[ChannelHit]:
        """The k pages whose renders best match the query (MaxSim), best first."""
        self._check_mode(mode)
        if k <= 0 or not query.strip():
            return []
        return self.search_vectors(self.encoder.encode_queries([query])[0], k, flt)

    def search_vectors(self, vectors: np.ndarray, k: int, flt: SearchFilter | None = None) -> list[ChannelHit]:
        """The k pages with the highest MaxSim against query vectors (tokens × dim), best first; with
        `two_stage`, among the `first_stage_k` pages nearest to the query's pooled vector."""
        if k <= 0 or len(vectors) == 0:
            return []
        if flt is not None and flt.kinds is not None and not set(flt.kinds) & set(KINDS):
            return []  # only page renders live here
        pooled = pooled_vector(vectors) if self.settings.two_stage else None
        found = self.store.query_pages(vectors, pooled, k, flt, self.settings.first_stage_k)
        # Equal scores come back in any order; break ties by id so repeated searches agree.
        ranked = sorted(found, key=lambda r: (-r[1], r[0]))
        return [ChannelHit(eid, score, rank, self.name) for rank, (eid, score) in enumerate(ranked, start=1)]

    # status ---------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        """The encoder's fingerprint and what shapes the stored vectors (two_stage does not: it is query-time)."""
        cfg = self.settings
        return {**self.encoder.fingerprint(), "pool_factor": cfg.pool_factor, "datatype": cfg.datatype,
                "quantization": cfg.quantization, "store": "qdrant"}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.fingerprint(), **self.store.describe(),
                "two_stage": self.settings.two_stage, "first_stage_k": self.settings.first_stage_k}

    def optimize(self) -> bool:
        """Merge an Edge shard's segments and build the pooled vectors' HNSW; a no-op on a server."""
        return self.store.optimize()

    def optimize_due(self) -> bool:
        """Whether enough pages sit in plain segments for `optimize()` to pay."""
        plain = self.store.plain_points()
        if plain < OPTIMIZE_MIN_PAGES:
            return False
        return plain > self.text.optimize_threshold * max(1, self.store.count())

    def flush(self) -> None:
        self.store.flush()

    def close(self) -> None:
        self.store.close()
