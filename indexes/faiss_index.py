"""The image channel's FAISS index, a cache of the vector files: exact (flat) or HNSW, and a thin GPU switch.

Both kinds are inner-product indexes inside an IndexIDMap2 keyed by Element.point_id, behind one small
interface (`add`, `remove`, `search`). Filters arrive as the selected point ids and are applied inside the
FAISS search (an ID selector), not as a post-filter. A very selective filter on HNSW scans the HNSW's own flat
storage exactly, since graph search under a narrow filter loses recall.

HNSW cannot take a vector out of its graph, so its `remove` leaves tombstones: the graph's own positions are its
labels (unique for the graph's life, never reused), the IndexIDMap2 maps each to a point id, and a position is
live while it is the newest one of a point id that was not removed. A replaced vector is added again at a fresh
position (a point id's newest position is the one that counts, which is also how a loaded graph is read, so
nothing beyond the id map is stored); every search excludes dead positions with a bitmap selector. The channel
compacts (rebuilds) the graph once tombstones pass `HNSW_COMPACT_FRACTION` of it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import faiss
import numpy as np

FLAT = "flat"
HNSW = "hnsw"
HNSW_M = 16
# 100, as Qdrant's ef_construct: faiss's default of 40 builds a graph too sparse for a million clustered vectors,
# whose recall no efSearch can restore (the graph, not the search, is short); 100 costs a build about 2.5x as
# long. The scale benchmark pages (benchmarks/bench_scale.py) give recall and build time for both.
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 128
# What an HNSW graph was built with, in the index sidecar: a graph built otherwise is rebuilt from the files.
HNSW_GRAPH = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
HNSW_EF_MAX = 1024
# Below this fraction of selected vectors, a filtered HNSW search becomes an exact scan over the selection.
HNSW_EXACT_FRACTION = 0.1
# Past this fraction of dead positions the channel rebuilds the graph from the vector files: tombstones cost
# memory and search time (dead nodes are still walked), a rebuild costs minutes at 100k+ vectors.
HNSW_COMPACT_FRACTION = 0.2

Scored = tuple[np.ndarray, np.ndarray]  # FAISS's (scores, labels), each of shape (1, k); label -1 = no hit


class VectorIndex(ABC):
    """An inner-product FAISS index keyed by point id."""

    kind: str

    def __init__(self, index: Any) -> None:
        self.index = index  # a faiss.IndexIDMap2

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def tombstones(self) -> int:
        """Removed vectors the index still holds (HNSW only)."""
        return 0

    @property
    def size(self) -> int:
        """Vectors held, tombstones included."""
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """The point ids of the live vectors."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids))
        self._changed()

    @abstractmethod
    def remove(self, ids: np.ndarray) -> bool:
        """Remove vectors by id; False when this kind cannot remove in place (rebuild it instead)."""

    @abstractmethod
    def search(self, q: np.ndarray, k: int, selected: np.ndarray | None) -> Scored:
        """The k best of `selected` ids (None: of all) for a (1, dim) query; k is at most what there is."""

    def serialize(self) -> np.ndarray:
        return faiss.serialize_index(self.index)

    def close(self) -> None:  # noqa: B027 - only a GPU copy holds anything to release
        """Drop what the index holds besides its vectors (a GPU copy)."""

    def _changed(self) -> None:  # noqa: B027 - a hook for the caches of subclasses
        """Forget what was derived from the vectors."""


class FlatIndex(VectorIndex):
    """Exact inner-product search; unfiltered searches run on a GPU copy when the switch allows it."""

    kind = FLAT

    def __init__(self, index: Any, gpu: GpuSwitch | None = None) -> None:
        super().__init__(index)
        self.gpu = gpu
        self._gpu_copy: Any = None

    @classmethod
    def new(cls, dim: int, gpu: GpuSwitch | None = None) -> FlatIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), gpu)

    @property
    def device(self) -> str:
        return "gpu" if self.gpu is not None and self.gpu.enabled else "cpu"

    def remove(self, ids: np.ndarray) -> bool:
        self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))
        self._changed()
        return True

    def search(self, q: np.ndarray, k: int, selected: np.ndarray | None) -> Scored:
        if selected is not None:
            # Filtered searches stay on the CPU: IDSelector support on GPU indexes varies by faiss version.
            selector = faiss.IDSelectorBatch(selected)
            return self.index.search(q, k, params=faiss.SearchParameters(sel=selector))
        if self.gpu is not None and self.gpu.enabled:
            if self._gpu_copy is None:
                self._gpu_copy = self.gpu.copy(self.index)
            return self._gpu_copy.search(q, k)
        return self.index.search(q, k)

    def close(self) -> None:
        self._gpu_copy = None

    def _changed(self) -> None:
        self._gpu_copy = None


class HnswIndex(VectorIndex):
    """Approximate search on an HNSW graph (M=16, efConstruction=100, efSearch=128) that removes by tombstones;
    narrow filters scan its storage exactly."""

    kind = HNSW

    def __init__(self, index: Any) -> None:
        super().__init__(index)
        self._labels = faiss.vector_to_array(index.id_map).astype(np.int64)  # graph position -> point id
        self._live = _newest(self._labels)  # graph position -> not dead
        self._n_live = int(self._live.sum())
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # live point ids sorted, and their positions
        self._live_bits: np.ndarray | None = None  # the live bitmap, packed for IDSelectorBitmap

    @classmethod
    def new(cls, dim: int) -> HnswIndex:
        base = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        base.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(faiss.IndexIDMap2(base))

    @property
    def ntotal(self) -> int:
        return self._n_live

    @property
    def tombstones(self) -> int:
        return len(self._labels) - self._n_live

    def ids(self) -> np.ndarray:
        return self._labels[self._live]

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors; a point id that is already live is replaced (its old position becomes a tombstone)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        self._kill(self._positions_of(ids))
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._labels = np.concatenate([self._labels, ids])
        self._live = np.concatenate([self._live, _newest(ids)])
        self._changed()

    def remove(self, ids: np.ndarray) -> bool:
        self._kill(self._positions_of(np.asarray(ids, dtype=np.int64)))
        return True

    def search(self, q: np.ndarray, k: int, selected: np.ndarray | None) -> Scored:
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(HNSW_EF_SEARCH, k)
        if selected is None and not self.tombstones:
            return self._search_graph(q, k, params)
        if selected is None:
            if self._live_bits is None:
                self._live_bits = np.packbits(self._live, bitorder="little")
            bits, n_selected = self._live_bits, self._n_live
        else:
            mask = np.zeros(len(self._labels), dtype=bool)
            mask[self._positions_of(selected)] = True
            n_selected = int(mask.sum())
            if n_selected < HNSW_EXACT_FRACTION * self._n_live:
                return self._exact_scan(q, k, mask)
            bits = np.packbits(mask, bitorder="little")
        # the graph is walked through unselected (and dead) nodes too: widen the search by the share left out
        params.efSearch = int(min(HNSW_EF_MAX, max(HNSW_EF_SEARCH, k) * len(self._labels) / max(1, n_selected)))
        selector = faiss.IDSelectorBitmap(len(self._labels), faiss.swig_ptr(bits))  # held here: params does not
        params.sel = selector
        return self._search_graph(q, k, params)

    def _search_graph(self, q: np.ndarray, k: int, params: Any) -> Scored:
        """Search the HNSW graph itself (labels are positions), then map positions to point ids."""
        scores, positions = faiss.downcast_index(self.index.index).search(q, k, params=params)
        return scores, self._point_ids(positions)

    def _exact_scan(self, q: np.ndarray, k: int, mask: np.ndarray) -> Scored:
        """Exact search of the positions in `mask`, scanning the HNSW's flat storage with a bitmap."""
        bits = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        storage = faiss.downcast_index(faiss.downcast_index(self.index.index).storage)
        scores, positions = storage.search(q, k, params=faiss.SearchParameters(sel=selector))
        return scores, self._point_ids(positions)

    def _point_ids(self, positions: np.ndarray) -> np.ndarray:
        return np.where(positions >= 0, self._labels[np.maximum(positions, 0)], -1)

    def _positions_of(self, ids: np.ndarray) -> np.ndarray:
        """The live positions of these point ids (ids not live are skipped)."""
        if self._lookup is None:
            positions = np.flatnonzero(self._live)
            order = np.argsort(self._labels[positions])
            self._lookup = (self._labels[positions][order], positions[order])
        live_ids, positions = self._lookup
        if not len(live_ids) or not len(ids):
            return np.zeros(0, np.int64)
        at = np.minimum(np.searchsorted(live_ids, ids), len(live_ids) - 1)
        return positions[at[live_ids[at] == ids]]

    def _kill(self, positions: np.ndarray) -> None:
        if len(positions):
            self._live[positions] = False
            self._changed()

    def _changed(self) -> None:
        self._n_live = int(self._live.sum())
        self._lookup = None
        self._live_bits = None


def _newest(labels: np.ndarray) -> np.ndarray:
    """Whether each position is the last one of its label (an earlier one of a label was replaced)."""
    live = np.zeros(len(labels), dtype=bool)
    if len(labels):
        _, last_reversed = np.unique(labels[::-1], return_index=True)
        live[len(labels) - 1 - last_reversed] = True
    return live


class GpuSwitch:
    """Whether a flat index is searched on the GPU: `use_gpu` (auto | never | always) and what faiss can do.

    Only the flat index moves, and only for unfiltered searches; HNSW has no GPU form. Without a faiss built
    with GPU support (faiss-gpu-cu12) nothing is faked: the device stays "cpu" and `always` leaves a note.
    """

    def __init__(self, use_gpu: str = "auto") -> None:
        has_gpu = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
        self.enabled = use_gpu != "never" and has_gpu
        self.note = ""
        if use_gpu == "always" and not has_gpu:
            self.note = "use_gpu=always but faiss has no GPU support here (pip install faiss-gpu-cu12)"
        self._resources: Any = None

    def copy(self, index: Any) -> Any:
        """A GPU copy of a CPU index (on GPU 0)."""
        if self._resources is None:
            self._resources = faiss.StandardGpuResources()
        return faiss.index_cpu_to_gpu(self._resources, 0, index)

    def release(self) -> None:
        self._resources = None


def kind_for(count: int, exact_max: int) -> str:
    """Exact search up to `exact_max` vectors, HNSW past it."""
    return HNSW if count > exact_max else FLAT


def new_index(kind: str, dim: int, gpu: GpuSwitch | None = None) -> VectorIndex:
    return HnswIndex.new(dim) if kind == HNSW else FlatIndex.new(dim, gpu)


def load_index(data: np.ndarray, kind: str, gpu: GpuSwitch | None = None) -> VectorIndex:
    """An index from `serialize()`'s bytes."""
    index = faiss.deserialize_index(data)
    return HnswIndex(index) if kind == HNSW else FlatIndex(index, gpu)
