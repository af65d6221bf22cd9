"""The Qdrant channels' embedded backend: a Qdrant Edge shard (the Qdrant engine in-process) in one folder.

A shard can be open in one process only (its WAL is locked). Readers beside a writer therefore open a private
copy: under a shared flock on `<index>/qdrant.lock` they copy the shard folder (sparse files stay sparse) into a
temporary folder and load that, replaying the copied WAL. The writer holds the same flock exclusively only while
it changes the shard's files (each update, flush, optimise, open and close), so a copy is always taken between
two complete operations: the reader sees every update the writer had finished, documents not yet `ready` in the
element store are filtered out by the query path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from mmrag.crash import kill_point
from mmrag.errors import IndexLocked, StaleVectors
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

_FACET_LIMIT = 1_000_000
# BM25's IDF counts the points deleted from a segment until the segment is vacuumed: after documents are removed or
# replaced, lexical scores drift (a document removed and re-added: 7.22 -> 7.84, so near-equal results swapped).
# The shard is optimised once this share of all its points has been deleted since the last time (`delete_docs`;
# Qdrant's own default share), and optimising vacuums every segment with more than half that share deleted (a
# segment at exactly the share is not vacuumed: deletions spread evenly would never be). Below it, the drift stays
# within that share of the statistics, as on a Qdrant server.
VACUUM_DELETED_SHARE = 0.2


class EdgeTextStore:
    """Dense + BM25 sparse vectors with payload indexes in a Qdrant Edge shard under `path`.

    layout: the named vectors (the text channel's dense + BM25 by default; the image channel's one dense vector).
    An existing shard is loaded (its config checked against the requested dimension), a missing one created.
    Updates go to the shard's WAL at once; `flush()` persists segments; `optimize()` builds HNSW indexes.
    read_only: open a private copy of the shard as it is now (see the module docstring), so that a writer
    may hold the shard meanwhile; changes to the copy are thrown away on close. reset_stale: replace a shard
    whose vectors have another size by an empty one instead of raising StaleVectors.
    """

    backend = "edge"

    def __init__(
        self, path: str | Path, dim: int, read_only: bool = False, hnsw_min_points: int | None = None,
        layout: Layout = TEXT_LAYOUT, reset_stale: bool = False,
    ) -> None:
        self.path = Path(path)
        self.dim = dim
        self.layout = layout
        self.read_only = read_only
        self._lock_path = self.path.parent / f"{self.path.name}.lock"
        self._copy: Path | None = None
        self._deleted = 0  # points deleted since the shard was last optimised (`delete_docs`)
        config = self.edge_config(hnsw_min_points)
        if read_only:
            self._copy = Path(tempfile.mkdtemp(prefix="mmrag-qdrant-reader-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._copy, True)
            shard_dir = self._copy / "shard"
            with self._io(exclusive=False):
                exists = (self.path / "edge_config.json").exists()
                if exists:
                    copy_tree_sparse(self.path, shard_dir)
            self.shard = self._load(config, shard_dir) if exists else qe.EdgeShard.create(str(shard_dir), config)
            self._ensure_payload_indexes()
            return
        with self._io():
            if (self.path / "edge_config.json").exists():
                try:
                    self.shard = self._load(config, self.path)
                    self._deleted = self._read_deleted()
                except StaleVectors:
                    if not reset_stale:
                        raise
                    shutil.rmtree(self.path)  # vectors of another size: start from an empty shard
                    self.shard = qe.EdgeShard.create(str(self.path), config)
            else:
                self.shard = qe.EdgeShard.create(str(self.path), config)
            if not self._deleted:
                self._deleted_file.unlink(missing_ok=True)
            self._ensure_payload_indexes()

    def vector_params(self) -> dict[str, qe.EdgeVectorParams]:
        """The shard's dense vectors by name: the layout's one dense vector (cosine)."""
        return {self.layout.dense: qe.EdgeVectorParams(size=self.dim, distance=qe.Distance.Cosine)}

    def edge_config(self, hnsw_min_points: int | None) -> qe.EdgeConfig:
        """The shard's config: `vector_params()`, the layout's sparse vector, the optimiser's threshold.

        hnsw_min_points: segments with fewer dense vectors stay plain (scanned) when optimising; None: Edge's own
        threshold. Qdrant counts it in kilobytes of vector data.
        """
        indexing = None if hnsw_min_points is None else max(1, hnsw_min_points * self.dim * 4 // 1024)
        optimizers = qe.EdgeOptimizersConfig(deleted_threshold=VACUUM_DELETED_SHARE / 2, vacuum_min_vector_number=1,
                                              indexing_threshold=indexing)
        sparse = None
        if self.layout.sparse:
            sparse = {self.layout.sparse: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}
        return qe.EdgeConfig(vectors=self.vector_params(), sparse_vectors=sparse, optimizers=optimizers)

    @contextlib.contextmanager
    def _io(self, exclusive: bool = True) -> Iterator[None]:
        """Hold `<index>/qdrant.lock`: exclusively while changing the shard's files, shared while copying them."""
        if self.read_only and exclusive:  # a reader changes only its private copy
            yield
            return
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _load(self, config: qe.EdgeConfig, path: Path) -> qe.EdgeShard:
        try:
            return qe.EdgeShard.load(str(path), config)
        except Exception as exc:  # qdrant_edge raises plain Exception with the engine's message
            message = str(exc)
            if "WouldBlock" in message or "lock" in message.lower():
                raise IndexLocked(
                    f"{self.path}: the Qdrant Edge shard is open in another process; to search while another "
                    "process writes, open the index read-only (the CLI's search, ask, eval and inspect do)"
                ) from exc
            if "incompatible" in message.lower():
                raise StaleVectors(
                    f"{self.path}: stored {self.layout.channel} vectors do not match the current model "
                    f"({self.dim}-d): {message}; "
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

    def _update(self, operation: Any) -> None:
        with self._io():
            self.shard.update(operation)

    def upsert(self, points: Sequence[TextPoint]) -> None:
        if not points:
            return
        batch = []
        for p in points:
            vector: dict[str, Any] = {self.layout.dense: p.dense}
            # no empty sparse vectors: plain_points() counts them
            if self.layout.sparse and p.sparse is not None and p.sparse.indices:
                vector[self.layout.sparse] = qe.SparseVector(p.sparse.indices, p.sparse.values)
            batch.append(qe.Point(id=p.id, vector=vector, payload=p.payload))
        self._update(qe.UpdateOperation.upsert_points(batch))
        kill_point("embed")

    def query(
        self, dense: list[float] | None, sparse: SparseTerms | None, k: int, flt: SearchFilter | None
    ) -> list[tuple[str, float]]:
        if k <= 0 or not one_search(dense, sparse):
            return []
        if dense is not None:
            search = qe.Query.Nearest(dense, using=self.layout.dense)
        elif self.layout.sparse and sparse is not None:
            search = qe.Query.Nearest(qe.SparseVector(sparse.indices, sparse.values), using=self.layout.sparse)
        else:
            return []
        request = qe.QueryRequest(limit=k, query=search, filter=edge_filter(flt), with_payload=["element_id"])
        return [(str(h.payload["element_id"]), float(h.score)) for h in self.shard.query(request)]

    def delete_docs(self, docs: Sequence[str]) -> None:
        docs = list(docs)
        if not docs:
            return
        of_docs = qe.Filter(must=[qe.FieldCondition(key="doc", match=qe.MatchAny(any=docs))])
        # BM25's statistics still count deleted points (VACUUM_DELETED_SHARE): vacuum once enough have gone
        deleted = int(self.shard.count(qe.CountRequest(exact=True, filter=of_docs))) if self.layout.sparse else 0
        self._update(qe.UpdateOperation.delete_points_by_filter(of_docs))
        if not deleted:
            return
        self._deleted += deleted
        if self._deleted >= VACUUM_DELETED_SHARE * (self.count() + self._deleted):
            self.optimize()
        else:
            self._deleted_file.write_text(str(self._deleted))

    @property
    def _deleted_file(self) -> Path:
        """Points deleted since the shard was last optimised (beside the shard, as its lock file is)."""
        return self.path.parent / f"{self.path.name}.deleted"

    def _read_deleted(self) -> int:
        try:
            return int(self._deleted_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

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
        sparse = 0
        if self.layout.sparse:
            has_sparse = qe.Filter(must=[qe.HasVectorCondition(self.layout.sparse)])
            sparse = int(self.shard.count(qe.CountRequest(exact=True, filter=has_sparse)))
        return max(0, int(info.points_count) - (int(info.indexed_vectors_count) - sparse))

    def optimize(self) -> bool:
        """Merge small segments and build HNSW where a segment outgrew the indexing threshold.

        Edge runs no background optimizer: until this is called, searches scan plain segments (at 100k points
        about 5x slower than HNSW, but building HNSW for 100k points takes minutes on two cores).
        """
        kill_point("optimize")
        with self._io():
            done = bool(self.shard.optimize())
        if self._deleted and not self.read_only:
            self._deleted = 0  # segments past VACUUM_DELETED_SHARE were vacuumed
            self._deleted_file.unlink(missing_ok=True)
        return done

    def flush(self) -> None:
        with self._io():
            self.shard.flush()

    def close(self) -> None:
        if self.shard is None:
            return
        with self._io():
            if not self.read_only:
                self.shard.flush()
            self.shard.close()
        self.shard = None  # type: ignore[assignment]
        if self._copy is not None:
            self._cleanup()

    def point_elements(self) -> dict[str, str]:
        """Element id -> document of every point (for `mmrag check`)."""
        found: dict[str, str] = {}
        offset = None
        while True:
            request = qe.ScrollRequest(limit=4096, offset=offset, with_payload=["element_id", "doc"], with_vector=False)
            records, offset = self.shard.scroll(request)
            for r in records:
                found[str(r.payload.get("element_id"))] = str(r.payload.get("doc"))
            if offset is None:
                return found

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


def copy_tree_sparse(src: Path, dst: Path) -> None:
    """Copy a folder; holes in sparse files (the WAL preallocates 32 MiB segments) are not written out."""
    for folder, _, files in os.walk(src):
        target = dst / Path(folder).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            _copy_file_sparse(Path(folder) / name, target / name)


def _copy_file_sparse(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        seek_data = getattr(os, "SEEK_DATA", None)
        if seek_data is None:
            shutil.copyfileobj(fin, fout, 1 << 20)
            return
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fin.fileno(), pos, seek_data)
            except OSError:  # ENXIO: only a hole remains
                break
            end = os.lseek(fin.fileno(), start, os.SEEK_HOLE)
            fin.seek(start)
            fout.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = fin.read(min(remaining, 1 << 22))
                if not chunk:
                    break
                fout.write(chunk)
                remaining -= len(chunk)
            pos = end
        fout.truncate(size)
