"""The image channel with its vectors in Qdrant (`image.store = "qdrant"`): open_clip embeddings of figures,
tables and pages as the named vector "image" (cosine), so one Qdrant cluster holds every vector of an index.

Where: a collection of its own beside the text channel's, namespaced the same way —
  Edge (default)  the shard `<index>/qdrant_image/` (own WAL lock and reader copies, like `<index>/qdrant/`);
  server/cluster  the collection `<text.collection>_image` at `text.qdrant_url`, with the text channel's shard,
                  replication, on-disk, batch and retry settings.
Not in the text collection itself: the two channels hold different elements (text points for everything with
text, image points for figure/table/page pixels), are rebuilt on their own (`reembed` of one channel after a
model change deletes and re-adds only its points; a new CLIP of another size needs a new vector config), and the
text channel's counts, `docs()` and `mmrag check` listing would otherwise mix in image-only points. An Edge shard
is also open in one process at a time, so a shared one would tie both channels to one object.

Search is Qdrant's: exact scan of plain segments, HNSW once a segment outgrows `image.exact_max` points (Edge
builds it in `optimize()`, a server in the background), the doc/page/kind filters evaluated by payload indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmrag.elements import ChannelHit, Element
from mmrag.indexes.base import DEFAULT_MODE, Channel, PixelReader, SearchFilter
from mmrag.indexes.image_embed import embed_pixels, images_by_doc
from mmrag.indexes.qdrant_store import IMAGE_LAYOUT, StoreBacked, TextPoint, TextStore
from mmrag.models.image_encoder import ImageEncoder
from mmrag.settings import ImageChannelSettings, Settings, TextChannelSettings

EDGE_FOLDER = "qdrant_image"
COLLECTION_SUFFIX = "_image"


def image_collection(index_dir: str | Path, text: TextChannelSettings) -> str:
    """The server collection of an index's image vectors: the text channel's collection name + "_image"."""
    from mmrag.indexes.qdrant_server import collection_name

    return f"{text.collection or collection_name(index_dir)}{COLLECTION_SUFFIX}"


class QdrantImageChannel(StoreBacked, Channel):
    """Image retrieval channel: embeds element pixels with an ImageEncoder, searches them in Qdrant."""

    name = "image"

    def __init__(self, store: TextStore, settings: ImageChannelSettings, encoder: ImageEncoder,
                 text: TextChannelSettings | None = None) -> None:
        self.store = store
        self.settings = settings
        self.encoder = encoder
        self.dim = int(encoder.dim)
        self.text = text or TextChannelSettings()  # the Qdrant connection and optimiser settings it shares

    @classmethod
    def from_settings(
        cls, index_dir: Path, settings: Settings, encoder: ImageEncoder, *, reset_stale: bool = False,
        read_only: bool = False,
    ) -> QdrantImageChannel:
        """The channel as `Settings` configure it: in the Qdrant the text channel uses (Edge or text.qdrant_url)."""
        return cls.open(index_dir, settings.image, encoder, text=settings.text, reset_stale=reset_stale,
                        read_only=read_only)

    @classmethod
    def open(
        cls,
        index_dir: str | Path,
        settings: ImageChannelSettings,
        encoder: ImageEncoder,
        *,
        text: TextChannelSettings | None = None,
        client: Any = None,
        location: str | None = None,
        reset_stale: bool = False,
        read_only: bool = False,
    ) -> QdrantImageChannel:
        """The image channel of an index, its vectors in Qdrant.

        Backend as for the text channel: `client` (a ready QdrantClient) or `location` (qdrant-client local
        mode) or `text.qdrant_url` → the collection `image_collection(index_dir, text)`; otherwise a Qdrant Edge
        shard in `<index_dir>/qdrant_image` (read_only: a private copy). reset_stale: replace stored vectors of
        another size (another model) by an empty collection instead of raising StaleVectors.
        """
        text = text or TextChannelSettings()
        dim = int(encoder.dim)
        store: TextStore
        if client is not None or location is not None or text.qdrant_url:
            from mmrag.indexes.qdrant_server import ServerTextStore

            name = image_collection(index_dir, text)
            if client is not None:
                store = ServerTextStore(client, name, dim, where="client", settings=text, layout=IMAGE_LAYOUT,
                                        reset_stale=reset_stale)
            elif location is not None:
                store = ServerTextStore.local(location, name, dim, text, layout=IMAGE_LAYOUT, reset_stale=reset_stale)
            else:
                store = ServerTextStore.connect(str(text.qdrant_url), name, dim, text, layout=IMAGE_LAYOUT,
                                                reset_stale=reset_stale)
        else:
            from mmrag.indexes.qdrant_edge import EdgeTextStore

            store = EdgeTextStore(Path(index_dir) / EDGE_FOLDER, dim, read_only=read_only,
                                  hnsw_min_points=settings.exact_max, layout=IMAGE_LAYOUT, reset_stale=reset_stale)
        return cls(store, settings, encoder, text)

    # writing --------------------------------------------------------------------------------
    def add(self, elements: Sequence[Element], read_pixels: PixelReader) -> int:
        """Embed the elements of the configured kinds that have pixels; returns how many vectors were stored."""
        added = 0
        for members in images_by_doc(elements, self.settings.kinds).values():
            kept, vectors = embed_pixels(members, read_pixels, self.encoder)
            added += self.add_vectors(kept, vectors)
        return added

    def add_vectors(self, elements: Sequence[Element], vectors: np.ndarray) -> int:
        """Store embeddings of elements (rows in element order; same ids are replaced); returns how many."""
        points = [
            TextPoint(e.point_id, np.asarray(v, dtype=np.float32).tolist(), None,
                      {"element_id": e.id, "doc": e.doc, "page": int(e.page), "kind": e.kind})
            for e, v in zip(elements, vectors)
        ]
        self.store.upsert(points)
        return len(points)

    def delete_docs(self, docs: Iterable[str]) -> None:
        self.store.delete_docs(sorted(set(docs)))

    # reading --------------------------------------------------------------------------------
    def search(self, query: str, k: int, flt: SearchFilter | None = None, *, mode: str = DEFAULT_MODE
               ) -> list[ChannelHit]:
        """The k elements whose pixels best match the query text, best first."""
        self._check_mode(mode)
        if k <= 0 or not query.strip():
            return []
        return self.search_vector(self.encoder.encode_text([query])[0], k, flt)

    def search_vector(self, vector: np.ndarray, k: int, flt: SearchFilter | None = None) -> list[ChannelHit]:
        """The k elements nearest (cosine) to an embedding, e.g. an image's, best first."""
        if k <= 0:
            return []
        dense = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        # Equal scores come back in any order; break ties by id so repeated searches agree.
        ranked = sorted(self.store.query(dense, None, k, flt), key=lambda r: (-r[1], r[0]))
        return [ChannelHit(eid, score, rank, self.name) for rank, (eid, score) in enumerate(ranked, start=1)]

    # status ---------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        """The encoder's fingerprint, the kinds, and the store (a switch from FAISS means re-embedding)."""
        return {**self.encoder.fingerprint(), "kinds": sorted(self.settings.kinds), "store": "qdrant"}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.fingerprint(), **self.store.describe(), "exact_max": self.settings.exact_max}

    def optimize(self) -> bool:
        """Build HNSW in an Edge shard for segments past `image.exact_max` points; a no-op on a server."""
        return self.store.optimize()

    def optimize_due(self) -> bool:
        """Whether enough points sit in plain segments for `optimize()` to pay (text.optimize_threshold share)."""
        plain = self.store.plain_points()
        if plain < max(1, self.settings.exact_max):
            return False
        return plain > self.text.optimize_threshold * max(1, self.store.count())

    def flush(self) -> None:
        self.store.flush()

    def close(self) -> None:
        self.store.close()

