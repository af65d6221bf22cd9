"""The image channel: open_clip embeddings of figures, tables and pages, searched with FAISS.

On disk, under `<index>/faiss/`:
  docs/<name>-<hash>.npz   one file per document: ids (int64 point ids), element ids, kinds, pages, vectors and
                           a json header (doc, token, encoder fingerprint). The source of truth, written atomically.
  index.faiss, index.json  the FAISS index, a cache of the files, with a sidecar naming the documents (and the
                           token of each file) it holds and the checksum of index.faiss.
Open reconciles the cache with the files (a crash between writing a document file and flush() loses nothing);
flush() saves the cache atomically.

Index type: exact inner product (IndexFlatIP) up to `settings.exact_max` vectors, HNSW (IndexHNSWFlat, inner
product) past it; both inside an IndexIDMap2 keyed by Element.point_id. Filters select ids from in-memory
metadata and are applied inside the FAISS search (IDSelectorBatch), not as a post-filter. HNSW cannot remove
vectors, so deletes and replacements rebuild it from the document files; a very selective filter on HNSW runs an
exact scan of the HNSW's own vector storage instead, since graph search under a narrow filter loses recall.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import shutil
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from PIL import Image

from mmrag.elements import ChannelHit, Element
from mmrag.errors import StaleVectors
from mmrag.indexes.base import Channel, PixelReader, SearchFilter
from mmrag.models.image_encoder import ImageEncoder
from mmrag.settings import ImageChannelSettings
from mmrag.store import atomic_write_bytes

log = logging.getLogger(__name__)

FLAT = "flat"
HNSW = "hnsw"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128
HNSW_EF_MAX = 1024
# Below this fraction of selected vectors, a filtered HNSW search becomes an exact scan over the selection.
HNSW_EXACT_FRACTION = 0.1
ENCODE_CHUNK = 256  # images decoded and held in memory at once while adding


@dataclass
class _DocMeta:
    """What is kept in memory of one document's vector file (not the vectors)."""

    doc: str
    file: str
    token: str
    ids: np.ndarray  # int64 point ids
    element_ids: np.ndarray  # str
    kinds: np.ndarray  # str
    pages: np.ndarray  # int32


def _doc_file_name(doc: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", doc)[:80].strip("._") or "doc"
    return f"{safe}-{hashlib.sha256(doc.encode()).hexdigest()[:12]}.npz"


def _faiss_has_gpu() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class FaissImageChannel(Channel):
    """Image retrieval channel: embeds element pixels with an ImageEncoder, searches them with FAISS."""

    name = "image"

    def __init__(self, root: Path, settings: ImageChannelSettings, encoder: ImageEncoder) -> None:
        self.root = root
        self.docs_dir = root / "docs"
        self.settings = settings
        self.encoder = encoder
        self.dim = int(encoder.dim)
        self._meta: dict[str, _DocMeta] = {}
        self._element_of: dict[int, str] = {}
        self._index: Any = None
        self._index_type = FLAT
        self._needs_rebuild = False
        self._dirty = False
        self._table: dict[str, np.ndarray] | None = None  # concatenated metadata for filters
        self._positions: tuple[np.ndarray, np.ndarray] | None = None  # (id_map, argsort) for the HNSW exact path
        self._gpu_res: Any = None
        self._gpu_index: Any = None
        self._gpu_note = ""

    # -------------------------------------------------------------------------------------
    # opening and reconciling
    # -------------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, index_dir: Path, settings: ImageChannelSettings, encoder: ImageEncoder, *, reset_stale: bool = False
    ) -> FaissImageChannel:
        """Open (or create) the channel under `<index_dir>/faiss/`, reconciling the index with the vector files.

        reset_stale: delete vectors made by another encoder instead of raising StaleVectors.
        """
        channel = cls(Path(index_dir) / "faiss", settings, encoder)
        channel.docs_dir.mkdir(parents=True, exist_ok=True)
        channel._load_metadata(reset_stale)
        channel._load_or_rebuild_index()
        return channel

    @classmethod
    def from_settings(cls, index_dir: Path, settings: ImageChannelSettings) -> FaissImageChannel:
        """Load the open_clip encoder the settings name (ModelUnavailable when it cannot) and open the channel."""
        from mmrag.models.image_encoder import OpenClipEncoder

        encoder = OpenClipEncoder.load(settings.model, settings.pretrained, settings.device, settings.batch_size)
        return cls.open(index_dir, settings, encoder)

    def _encoder_fingerprint(self) -> dict[str, Any]:
        return dict(self.encoder.fingerprint())

    def _load_metadata(self, reset_stale: bool) -> None:
        for tmp in self.docs_dir.glob(".tmp-*"):  # left by a write that was killed
            tmp.unlink(missing_ok=True)
        expected = self._encoder_fingerprint()
        for path in sorted(self.docs_dir.glob("*.npz")):
            try:
                with np.load(path, allow_pickle=False) as data:
                    header = json.loads(str(data["header"]))
                    meta = _DocMeta(
                        doc=header["doc"], file=path.name, token=header["token"], ids=data["ids"].astype(np.int64),
                        element_ids=data["element_ids"], kinds=data["kinds"], pages=data["pages"].astype(np.int32),
                    )
            except Exception as exc:  # atomic writes make this unlikely; the document will be re-ingested
                log.warning("image channel: ignoring unreadable vector file %s (%s)", path, exc)
                continue
            if header.get("fingerprint") != expected:
                if not reset_stale:
                    raise StaleVectors(
                        f"image vectors in {self.root} were made with {header.get('fingerprint')}, not {expected}; "
                        "re-embed the images (delete the folder or open with reset_stale=True, then re-index)"
                    )
                path.unlink(missing_ok=True)
                continue
            self._meta[meta.doc] = meta
            self._element_of.update(zip(meta.ids.tolist(), meta.element_ids.tolist()))

    def _load_or_rebuild_index(self) -> None:
        sidecar = self._read_sidecar()
        if sidecar is not None:
            try:
                data = np.fromfile(self.root / "index.faiss", dtype=np.uint8)
                if len(data) != sidecar["bytes"] or zlib.crc32(data) != sidecar["crc32"]:
                    raise ValueError("index.faiss does not match index.json")
                self._index = faiss.deserialize_index(data)
                self._index_type = sidecar["index_type"]
            except Exception as exc:
                log.info("image channel: rebuilding the FAISS index from the vector files (%s)", exc)
                sidecar = None
        if sidecar is None:
            self._rebuild()
            self._dirty = bool(self._meta) or (self.root / "index.faiss").exists()
            return
        held: dict[str, str] = sidecar["docs"]
        changed = [m for m in self._meta.values() if held.get(m.doc) != m.token]
        current_ids = self._all_ids()
        index_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        gone = index_ids[~np.isin(index_ids, current_ids)]
        replaced = [m.ids for m in changed if m.doc in held]
        to_remove = np.concatenate([gone, *replaced]) if len(gone) or replaced else np.zeros(0, np.int64)
        if len(to_remove) and self._index_type == HNSW:
            self._rebuild()
            self._dirty = True
            return
        if len(to_remove):
            self._remove_from_index(to_remove)
        for meta in changed:
            self._index.add_with_ids(self._read_vectors(meta), meta.ids)
        self._dirty = bool(changed) or bool(len(to_remove))
        if self._index_type != self._wanted_type():
            self._rebuild()
            self._dirty = True

    def _read_sidecar(self) -> dict[str, Any] | None:
        path = self.root / "index.json"
        if not path.is_file() or not (self.root / "index.faiss").is_file():
            return None
        try:
            sidecar = json.loads(path.read_text())
        except ValueError:
            return None
        if sidecar.get("fingerprint") != self._encoder_fingerprint() or sidecar.get("index_type") not in (FLAT, HNSW):
            return None
        return sidecar

    # -------------------------------------------------------------------------------------
    # the FAISS index (a cache of the files)
    # -------------------------------------------------------------------------------------
    def _wanted_type(self) -> str:
        return HNSW if self._count() > self.settings.exact_max else FLAT

    def _count(self) -> int:
        return sum(len(m.ids) for m in self._meta.values())

    def _all_ids(self) -> np.ndarray:
        if not self._meta:
            return np.zeros(0, np.int64)
        return np.concatenate([m.ids for m in self._meta.values()])

    def _new_index(self, index_type: str) -> Any:
        if index_type == HNSW:
            base = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            base.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            base = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(base)

    def _rebuild(self) -> None:
        """Build the index from the vector files (the source of truth)."""
        self._index_type = self._wanted_type()
        self._index = self._new_index(self._index_type)
        metas = list(self._meta.values())
        if metas:
            # one add call: HNSW builds in parallel over a batch
            vectors = np.concatenate([self._read_vectors(m) for m in metas])
            self._index.add_with_ids(vectors, np.concatenate([m.ids for m in metas]))
        self._needs_rebuild = False
        self._invalidate()

    def _ensure_index(self) -> None:
        if self._needs_rebuild or self._index_type != self._wanted_type():
            self._rebuild()
            self._dirty = True

    def _remove_from_index(self, ids: np.ndarray) -> None:
        if self._index_type == HNSW:
            self._needs_rebuild = True
        else:
            self._index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))
        self._invalidate()

    def _invalidate(self) -> None:
        self._table = None
        self._positions = None
        self._gpu_index = None

    def _read_vectors(self, meta: _DocMeta) -> np.ndarray:
        with np.load(self.docs_dir / meta.file, allow_pickle=False) as data:
            return np.ascontiguousarray(data["vectors"], dtype=np.float32)

    # -------------------------------------------------------------------------------------
    # Channel
    # -------------------------------------------------------------------------------------
    def add(self, elements: Sequence[Element], read_pixels: PixelReader) -> int:
        """Embed the elements of the configured kinds that have pixels; returns how many vectors were stored."""
        wanted = set(self.settings.kinds)
        by_doc: dict[str, dict[str, Element]] = {}
        for e in elements:
            if e.kind in wanted and e.image:
                by_doc.setdefault(e.doc, {})[e.id] = e
        added = 0
        for doc, members in by_doc.items():
            kept, vectors = self._embed(list(members.values()), read_pixels)
            if kept:
                self._store_doc(doc, kept, vectors)
                added += len(kept)
        return added

    def _embed(self, elements: list[Element], read_pixels: PixelReader) -> tuple[list[Element], np.ndarray]:
        kept: list[Element] = []
        parts: list[np.ndarray] = []
        for start in range(0, len(elements), ENCODE_CHUNK):
            images: list[Image.Image] = []
            for e in elements[start : start + ENCODE_CHUNK]:
                try:
                    image = Image.open(io.BytesIO(read_pixels(e.image or "")))
                    image.load()
                except Exception as exc:  # a missing or undecodable crop loses one element, not the document
                    log.warning("image channel: skipping %s (%s p.%d): %s", e.id, e.doc, e.page, exc)
                    continue
                images.append(image)
                kept.append(e)
            if images:
                parts.append(np.asarray(self.encoder.encode_images(images), dtype=np.float32))
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
        return kept, vectors

    def _store_doc(self, doc: str, elements: list[Element], vectors: np.ndarray) -> None:
        """Merge new vectors into the document's file (same ids are replaced), then into the index."""
        ids = np.array([e.point_id for e in elements], dtype=np.int64)
        element_ids = np.array([e.id for e in elements])
        kinds = np.array([e.kind for e in elements])
        pages = np.array([e.page for e in elements], dtype=np.int32)
        old = self._meta.get(doc)
        replaced = np.zeros(0, np.int64)
        if old is not None:
            keep = ~np.isin(old.ids, ids)
            replaced = old.ids[~keep]
            old_vectors = self._read_vectors(old)[keep]
            ids = np.concatenate([old.ids[keep], ids])
            element_ids = np.concatenate([old.element_ids[keep], element_ids])
            kinds = np.concatenate([old.kinds[keep], kinds])
            pages = np.concatenate([old.pages[keep], pages])
            new_vectors = vectors
            vectors = np.concatenate([old_vectors, vectors])
        else:
            new_vectors = vectors
        meta = _DocMeta(doc, _doc_file_name(doc), uuid.uuid4().hex, ids, element_ids, kinds, pages)
        header = {"doc": doc, "token": meta.token, "fingerprint": self._encoder_fingerprint()}
        buffer = io.BytesIO()
        np.savez(buffer, header=np.array(json.dumps(header)), ids=ids, element_ids=element_ids, kinds=kinds,
                 pages=pages, vectors=vectors.astype(np.float32))
        atomic_write_bytes(self.docs_dir / meta.file, buffer.getvalue())  # the file first: it is the truth
        self._meta[doc] = meta
        self._element_of.update(zip(meta.ids.tolist(), meta.element_ids.tolist()))
        if len(replaced):
            self._remove_from_index(replaced)
        if not self._needs_rebuild:
            self._index.add_with_ids(np.ascontiguousarray(new_vectors), ids[len(ids) - len(new_vectors) :])
        self._invalidate()
        self._dirty = True

    def delete_docs(self, docs: Iterable[str]) -> None:
        removed: list[np.ndarray] = []
        for doc in docs:
            meta = self._meta.pop(doc, None)
            if meta is None:
                continue
            (self.docs_dir / meta.file).unlink(missing_ok=True)
            for pid in meta.ids.tolist():
                self._element_of.pop(pid, None)
            removed.append(meta.ids)
        if removed:
            self._remove_from_index(np.concatenate(removed))
            self._dirty = True

    def docs(self) -> set[str]:
        return set(self._meta)

    def search(self, query: str, k: int, flt: SearchFilter | None = None) -> list[ChannelHit]:
        """The k elements whose pixels best match the query text, best first."""
        if k <= 0 or not self._meta:
            return []
        vector = self.encoder.encode_text([query])[0]
        return self.search_vector(vector, k, flt)

    def search_vector(self, vector: np.ndarray, k: int, flt: SearchFilter | None = None) -> list[ChannelHit]:
        """The k elements nearest (inner product) to an embedding, e.g. an image's, best first."""
        self._ensure_index()
        n = self._index.ntotal
        if k <= 0 or n == 0:
            return []
        q = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        selected = self._selected_ids(flt)
        if selected is not None and len(selected) == 0:
            return []
        k = min(k, n if selected is None else len(selected))
        if selected is None:
            scores, labels = self._search_all(q, k)
        elif self._index_type == FLAT:
            selector = faiss.IDSelectorBatch(selected)
            scores, labels = self._index.search(q, k, params=faiss.SearchParameters(sel=selector))
        elif len(selected) < HNSW_EXACT_FRACTION * n:
            scores, labels = self._exact_scan_hnsw_storage(q, k, selected)
        else:
            params = faiss.SearchParametersHNSW()
            selector = faiss.IDSelectorBatch(selected)  # held here: params does not own it
            params.sel = selector
            params.efSearch = int(min(HNSW_EF_MAX, max(HNSW_EF_SEARCH, k) * n / len(selected)))
            scores, labels = self._index.search(q, k, params=params)
        hits = []
        for score, label in zip(scores[0].tolist(), labels[0].tolist()):
            if label < 0:
                continue
            hits.append(ChannelHit(self._element_of[label], float(score), len(hits) + 1, self.name))
        return hits

    def _search_all(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        gpu = self._gpu()
        if gpu is not None:
            return gpu.search(q, k)
        if self._index_type == HNSW:
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(HNSW_EF_SEARCH, k)
            return self._index.search(q, k, params=params)
        return self._index.search(q, k)

    def _exact_scan_hnsw_storage(self, q: np.ndarray, k: int, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact search of the selected vectors, scanning the HNSW's flat storage with a bitmap of positions."""
        if self._positions is None:
            id_map = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            self._positions = (id_map, np.argsort(id_map))
        id_map, order = self._positions
        positions = order[np.searchsorted(id_map, selected, sorter=order)]
        mask = np.zeros(len(id_map), dtype=bool)
        mask[positions] = True
        bits = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(id_map), faiss.swig_ptr(bits))
        storage = faiss.downcast_index(faiss.downcast_index(self._index.index).storage)
        scores, labels = storage.search(q, k, params=faiss.SearchParameters(sel=selector))
        return scores, np.where(labels >= 0, id_map[np.maximum(labels, 0)], -1)

    def _selected_ids(self, flt: SearchFilter | None) -> np.ndarray | None:
        """Point ids that pass the filter; None when it passes everything."""
        if flt is None or (flt.docs is None and flt.kinds is None and flt.pages is None):
            return None
        table = self._metadata_table()
        mask = np.ones(len(table["ids"]), dtype=bool)
        if flt.docs is not None:
            mask &= np.isin(table["docs"], list(flt.docs))
        if flt.kinds is not None:
            mask &= np.isin(table["kinds"], list(flt.kinds))
        if flt.pages is not None:
            mask &= (table["pages"] >= flt.pages[0]) & (table["pages"] <= flt.pages[1])
        if mask.all():
            return None
        return np.ascontiguousarray(table["ids"][mask])

    def _metadata_table(self) -> dict[str, np.ndarray]:
        if self._table is None:
            metas = list(self._meta.values())
            self._table = {
                "ids": self._all_ids(),
                "docs": np.concatenate([np.full(len(m.ids), m.doc, dtype=object) for m in metas])
                if metas else np.zeros(0, object),
                "kinds": np.concatenate([m.kinds for m in metas]) if metas else np.zeros(0, str),
                "pages": np.concatenate([m.pages for m in metas]) if metas else np.zeros(0, np.int32),
            }
        return self._table

    # -------------------------------------------------------------------------------------
    # GPU: a thin switch, flat index only, unfiltered searches only
    # -------------------------------------------------------------------------------------
    def _gpu(self) -> Any:
        """A GPU copy of the flat index, when faiss was built with GPU support and a GPU is visible.

        Filtered searches stay on the CPU index (IDSelector support on GPU indexes varies by faiss version);
        HNSW has no GPU form. Without faiss-gpu nothing is faked: describe() says "cpu".
        """
        if self.settings.use_gpu == "never" or self._index_type != FLAT:
            return None
        if not _faiss_has_gpu():
            if self.settings.use_gpu == "always":
                self._gpu_note = "use_gpu=always but faiss has no GPU support here (pip install faiss-gpu-cu12)"
            return None
        if self._gpu_index is None:
            if self._gpu_res is None:
                self._gpu_res = faiss.StandardGpuResources()
            self._gpu_index = faiss.index_cpu_to_gpu(self._gpu_res, 0, self._index)
        return self._gpu_index

    # -------------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return {**self._encoder_fingerprint(), "kinds": sorted(self.settings.kinds)}

    def flush(self) -> None:
        """Save the index and its sidecar atomically (index first; the sidecar's checksum pairs them)."""
        self._ensure_index()
        if not self._dirty:
            return
        data = faiss.serialize_index(self._index)
        atomic_write_bytes(self.root / "index.faiss", data.tobytes())
        sidecar = {
            "fingerprint": self._encoder_fingerprint(),
            "index_type": self._index_type,
            "vectors": int(self._index.ntotal),
            "bytes": int(len(data)),
            "crc32": zlib.crc32(data),
            "docs": {m.doc: m.token for m in self._meta.values()},
        }
        atomic_write_bytes(self.root / "index.json", json.dumps(sidecar, indent=1).encode())
        self._dirty = False

    def close(self) -> None:
        self.flush()
        self._gpu_index = None
        self._gpu_res = None

    def describe(self) -> dict[str, Any]:
        self._ensure_index()
        gpu = self._gpu()
        info = {
            "name": self.name,
            **self.fingerprint(),
            "device": "gpu" if gpu is not None else "cpu",
            "index_type": self._index_type,
            "vectors": int(self._index.ntotal),
            "docs": len(self._meta),
            "exact_max": self.settings.exact_max,
        }
        if self._gpu_note:
            info["gpu_note"] = self._gpu_note
        return info

    def reset(self) -> None:
        """Delete every vector of this channel (files and index)."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.docs_dir.mkdir(parents=True, exist_ok=True)
        self._meta.clear()
        self._element_of.clear()
        self._rebuild()
        self._dirty = True
