"""The image channel's FAISS index, a cache of the vector files: exact (flat) or HNSW, and a thin GPU switch.

Both kinds are inner-product indexes inside an IndexIDMap2 keyed by Element.point_id, behind one small
interface (`add`, `remove`, `search`). Filters arrive as the selected point ids and are applied inside the
FAISS search (IDSelectorBatch), not as a post-filter. HNSW cannot remove vectors: its `remove` says so and the
channel rebuilds it from the files. A very selective filter on HNSW scans the HNSW's own flat storage exactly,
since graph search under a narrow filter loses recall.
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

    def ids(self) -> np.ndarray:
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
    """Approximate search on an HNSW graph (M=16, efConstruction=100, efSearch=128); narrow filters scan its
    storage exactly."""

    kind = HNSW

    def __init__(self, index: Any) -> None:
        super().__init__(index)
        self._positions: tuple[np.ndarray, np.ndarray] | None = None  # (id_map, argsort) for the exact path

    @classmethod
    def new(cls, dim: int) -> HnswIndex:
        base = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        base.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(faiss.IndexIDMap2(base))

    def remove(self, ids: np.ndarray) -> bool:
        return False

    def search(self, q: np.ndarray, k: int, selected: np.ndarray | None) -> Scored:
        params = faiss.SearchParametersHNSW()
        if selected is None:
            params.efSearch = max(HNSW_EF_SEARCH, k)
            return self.index.search(q, k, params=params)
        n = self.ntotal
        if len(selected) < HNSW_EXACT_FRACTION * n:
            return self._exact_scan(q, k, selected)
        selector = faiss.IDSelectorBatch(selected)  # held here: params does not own it
        params.sel = selector
        params.efSearch = int(min(HNSW_EF_MAX, max(HNSW_EF_SEARCH, k) * n / len(selected)))
        return self.index.search(q, k, params=params)

    def _exact_scan(self, q: np.ndarray, k: int, selected: np.ndarray) -> Scored:
        """Exact search of the selected vectors, scanning the HNSW's flat storage with a bitmap of positions."""
        if self._positions is None:
            id_map = self.ids()
            self._positions = (id_map, np.argsort(id_map))
        id_map, order = self._positions
        positions = order[np.searchsorted(id_map, selected, sorter=order)]
        mask = np.zeros(len(id_map), dtype=bool)
        mask[positions] = True
        bits = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(id_map), faiss.swig_ptr(bits))
        storage = faiss.downcast_index(faiss.downcast_index(self.index.index).storage)
        scores, labels = storage.search(q, k, params=faiss.SearchParameters(sel=selector))
        return scores, np.where(labels >= 0, id_map[np.maximum(labels, 0)], -1)

    def _changed(self) -> None:
        self._positions = None


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
