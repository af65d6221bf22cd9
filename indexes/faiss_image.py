"""The image channel: open_clip embeddings of figures, tables and pages, searched with FAISS.

Three parts, as the text channel is split into channel and store:
  faiss_image.py    this channel: embeds pixels, keeps the index in step with the files, searches, saves.
  faiss_vectors.py  the per-document vector files under `<index>/faiss/docs/`, the source of truth.
  faiss_index.py    the FAISS index (flat up to `settings.exact_max` vectors, HNSW past it; a GPU switch).

On disk, under `<index>/faiss/`, besides `docs/`: `index.faiss` and `index.json`, the FAISS index (a cache of
the files) with a sidecar naming the documents (and the token of each file) it holds and the checksum of
index.faiss. Open reconciles the cache with the files (a crash between writing a document file and flush()
loses nothing); flush() saves the cache atomically.

Deleting or replacing a document leaves tombstones in an HNSW index instead of rebuilding it (see
faiss_index.py); a saved graph keeps its dead vectors, and open finds them dead again from the id map and the
files (a point id that is in no file, or that has a newer position). Once tombstones pass `compact_fraction` of
the graph (HNSW_COMPACT_FRACTION, 20%) the next search or flush rebuilds it from the files.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmrag.elements import ChannelHit, Element
from mmrag.indexes.base import DEFAULT_MODE, Channel, PixelReader, SearchFilter
from mmrag.indexes.faiss_index import (
    FLAT,
    HNSW,
    HNSW_COMPACT_FRACTION,
    HNSW_GRAPH,
    GpuSwitch,
    VectorIndex,
    kind_for,
    load_index,
    new_index,
)
from mmrag.indexes.faiss_vectors import ImageVectorStore
from mmrag.indexes.image_embed import embed_pixels, images_by_doc
from mmrag.models.image_encoder import ImageEncoder
from mmrag.settings import ImageChannelSettings, Settings
from mmrag.store import atomic_write_bytes

log = logging.getLogger(__name__)

class FaissImageChannel(Channel):
    """Image retrieval channel: embeds element pixels with an ImageEncoder, searches them with FAISS."""

    name = "image"

    def __init__(
        self, root: Path, settings: ImageChannelSettings, encoder: ImageEncoder, vectors: ImageVectorStore
    ) -> None:
        self.root = root
        self.settings = settings
        self.encoder = encoder
        self.dim = int(encoder.dim)
        self.vectors = vectors
        self.gpu = GpuSwitch(settings.use_gpu)
        self.index: VectorIndex = new_index(FLAT, self.dim, self.gpu)
        self._needs_rebuild = False  # a removal the index could not do in place, or tombstones to compact
        # rebuild once tombstones pass this share of the index (0: on every removal, as before tombstones)
        self.compact_fraction = HNSW_COMPACT_FRACTION
        self._dirty = False  # the index differs from index.faiss

    @classmethod
    def from_settings(
        cls, index_dir: Path, settings: Settings, encoder: ImageEncoder, *, reset_stale: bool = False,
        read_only: bool = False,
    ) -> FaissImageChannel:
        """The channel as `Settings` configure it (the registry's uniform way to open an image backend)."""
        return cls.open(index_dir, settings.image, encoder, reset_stale=reset_stale, read_only=read_only)

    @classmethod
    def open(
        cls, index_dir: Path, settings: ImageChannelSettings, encoder: ImageEncoder, *, reset_stale: bool = False,
        read_only: bool = False,
    ) -> FaissImageChannel:
        """Open (or create) the channel under `<index_dir>/faiss/`, reconciling the index with the vector files.

        reset_stale: delete vectors made by another encoder instead of raising StaleVectors. read_only: delete
        nothing on open (the index held in memory is still brought up to date with the files).
        """
        root = Path(index_dir) / "faiss"
        vectors = ImageVectorStore.open(root / "docs", dict(encoder.fingerprint()), reset_stale=reset_stale,
                                        read_only=read_only)
        channel = cls(root, settings, encoder, vectors)
        channel._load_or_rebuild_index()
        return channel

    # the index, a cache of the files ------------------------------------------------------------
    def _load_or_rebuild_index(self) -> None:
        sidecar = self._read_sidecar()
        if sidecar is not None:
            try:
                data = np.fromfile(self.root / "index.faiss", dtype=np.uint8)
                if len(data) != sidecar["bytes"] or zlib.crc32(data) != sidecar["crc32"]:
                    raise ValueError("index.faiss does not match index.json")
                self.index = load_index(data, sidecar["index_type"], self.gpu)
            except Exception as exc:
                log.info("image channel: rebuilding the FAISS index from the vector files (%s)", exc)
                sidecar = None
        if sidecar is None:
            self._rebuild()
            self._dirty = bool(self.vectors.count()) or (self.root / "index.faiss").exists()
            return
        held: dict[str, str] = sidecar["docs"]
        changed = [d for d in self.vectors if held.get(d.doc) != d.token]
        index_ids = self.index.ids()
        gone = index_ids[~np.isin(index_ids, self.vectors.ids())]
        replaced = [d.ids for d in changed if d.doc in held]
        to_remove = np.concatenate([gone, *replaced]) if len(gone) or replaced else np.zeros(0, np.int64)
        if len(to_remove):
            self._remove_from_index(to_remove)
        if not self._needs_rebuild:
            for entry in changed:
                self.index.add(self.vectors.vectors(entry), entry.ids)
        # removals of documents deleted before the flush are the saved graph's own tombstones: nothing to save
        self._dirty = bool(changed) or bool(set(held) - self.vectors.docs())
        self._ensure_index()

    def _read_sidecar(self) -> dict[str, Any] | None:
        path = self.root / "index.json"
        if not path.is_file() or not (self.root / "index.faiss").is_file():
            return None
        try:
            sidecar = json.loads(path.read_text())
        except ValueError:
            return None
        if sidecar.get("fingerprint") != self.vectors.fingerprint or sidecar.get("index_type") not in (FLAT, HNSW):
            return None
        if sidecar["index_type"] == HNSW and sidecar.get("graph") != HNSW_GRAPH:
            return None  # built with other graph parameters (e.g. before efConstruction went to 100): rebuild
        return sidecar

    def _wanted_kind(self) -> str:
        return kind_for(self.vectors.count(), self.settings.exact_max)

    def _rebuild(self) -> None:
        """Build the index from the vector files (one add call: HNSW builds in parallel over a batch)."""
        self.index.close()
        self.index = new_index(self._wanted_kind(), self.dim, self.gpu)
        vectors, ids = self.vectors.all_vectors(self.dim)
        if len(ids):
            self.index.add(vectors, ids)
        self._needs_rebuild = False

    def _ensure_index(self) -> None:
        if self._needs_rebuild or self._compaction_due() or self.index.kind != self._wanted_kind():
            self._rebuild()
            self._dirty = True

    def _compaction_due(self) -> bool:
        return self.index.tombstones > self.compact_fraction * self.index.size

    def _remove_from_index(self, ids: np.ndarray) -> None:
        if self._needs_rebuild:
            return
        if not self.index.remove(ids) or self._compaction_due():
            self._needs_rebuild = True  # done at the next search or flush, after the adds that usually follow

    # Channel ----------------------------------------------------------------------------------
    def add(self, elements: Sequence[Element], read_pixels: PixelReader) -> int:
        """Embed the elements of the configured kinds that have pixels; returns how many vectors were stored."""
        added = 0
        for doc, members in images_by_doc(elements, self.settings.kinds).items():
            kept, vectors = embed_pixels(members, read_pixels, self.encoder)
            if kept:
                self.add_vectors(doc, kept, vectors)
                added += len(kept)
        return added

    def add_vectors(self, doc: str, elements: Sequence[Element], vectors: np.ndarray) -> None:
        """Store embeddings of one document's elements (rows in element order; same ids are replaced)."""
        replaced = self.vectors.put(doc, elements, vectors)  # the file first: it is the truth
        if len(replaced):
            self._remove_from_index(replaced)
        if not self._needs_rebuild:
            self.index.add(vectors, np.array([e.point_id for e in elements], dtype=np.int64))
        self._dirty = True

    def delete_docs(self, docs: Iterable[str]) -> None:
        removed = self.vectors.delete(docs)
        if len(removed):
            self._remove_from_index(removed)
            self._dirty = True

    def point_elements(self) -> dict[str, str]:
        """Element id -> document of every stored vector (what `mmrag check` compares with the store)."""
        return {str(eid): entry.doc for entry in self.vectors for eid in entry.element_ids.tolist()}

    def docs(self) -> set[str]:
        return self.vectors.docs()

    def search(self, query: str, k: int, flt: SearchFilter | None = None, *, mode: str = DEFAULT_MODE
               ) -> list[ChannelHit]:
        """The k elements whose pixels best match the query text, best first."""
        self._check_mode(mode)
        if k <= 0 or not self.vectors.count():
            return []
        vector = self.encoder.encode_text([query])[0]
        return self.search_vector(vector, k, flt)

    def search_vector(self, vector: np.ndarray, k: int, flt: SearchFilter | None = None) -> list[ChannelHit]:
        """The k elements nearest (inner product) to an embedding, e.g. an image's, best first."""
        self._ensure_index()
        n = self.index.ntotal
        if k <= 0 or n == 0:
            return []
        q = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        selected = self.vectors.select(flt)
        if selected is not None and len(selected) == 0:
            return []
        k = min(k, n if selected is None else len(selected))
        scores, labels = self.index.search(q, k, selected)
        hits: list[ChannelHit] = []
        for score, label in zip(scores[0].tolist(), labels[0].tolist()):
            if label >= 0:
                hits.append(ChannelHit(self.vectors.element_id(label), float(score), len(hits) + 1, self.name))
        return hits

    # status and persistence -----------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return {**self.vectors.fingerprint, "kinds": sorted(self.settings.kinds)}

    def flush(self) -> None:
        """Save the index and its sidecar atomically (index first; the sidecar's checksum pairs them)."""
        self._ensure_index()
        if not self._dirty:
            return
        data = self.index.serialize()
        atomic_write_bytes(self.root / "index.faiss", data.tobytes())
        sidecar = {
            "fingerprint": self.vectors.fingerprint,
            "index_type": self.index.kind,
            "vectors": self.index.ntotal,
            "tombstones": self.index.tombstones,  # for reading only: open finds them again from the id map
            "bytes": int(len(data)),
            "crc32": zlib.crc32(data),
            "docs": self.vectors.tokens(),
        }
        if self.index.kind == HNSW:
            sidecar["graph"] = HNSW_GRAPH
        atomic_write_bytes(self.root / "index.json", json.dumps(sidecar, indent=1).encode())
        self._dirty = False

    def close(self) -> None:
        self.flush()
        self.index.close()
        self.gpu.release()

    def describe(self) -> dict[str, Any]:
        self._ensure_index()
        info = {
            "name": self.name,
            **self.fingerprint(),
            "device": self.index.device,
            "index_type": self.index.kind,
            "vectors": self.index.ntotal,
            "tombstones": self.index.tombstones,
            "docs": len(self.vectors.docs()),
            "exact_max": self.settings.exact_max,
        }
        if self.gpu.note:
            info["gpu_note"] = self.gpu.note
        return info
