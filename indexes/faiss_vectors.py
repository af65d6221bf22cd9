"""The image channel's vector store: one file of vectors per document, the source of truth.

`<folder>/<name>-<hash>.npz` holds a document's point ids (int64), element ids, kinds, pages, float32 vectors
and a json header (doc, token, encoder fingerprint). Files are written atomically; the token changes with
every write, so an index built from the files can tell which documents it holds an old version of.
Metadata (not vectors) stays in memory for filters and for mapping FAISS labels back to element ids.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmrag.elements import Element
from mmrag.errors import StaleVectors
from mmrag.indexes.base import SearchFilter
from mmrag.store import atomic_write_bytes

log = logging.getLogger(__name__)


@dataclass
class DocVectors:
    """What is kept in memory of one document's vector file (not the vectors)."""

    doc: str
    file: str
    token: str
    ids: np.ndarray  # int64 point ids
    element_ids: np.ndarray  # str
    kinds: np.ndarray  # str
    pages: np.ndarray  # int32


def doc_file_name(doc: str) -> str:
    """A file name for a document's vectors: readable, and unique by a hash of the document name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", doc)[:80].strip("._") or "doc"
    return f"{safe}-{hashlib.sha256(doc.encode()).hexdigest()[:12]}.npz"


class ImageVectorStore:
    """Per-document vector files in one folder, with their metadata in memory."""

    def __init__(self, folder: Path, fingerprint: dict[str, Any]) -> None:
        self.folder = folder
        self.fingerprint = fingerprint  # of the encoder: files made by another one are stale
        self._docs: dict[str, DocVectors] = {}
        self._element_of: dict[int, str] = {}
        self._table: dict[str, np.ndarray] | None = None  # concatenated metadata for filters

    @classmethod
    def open(
        cls, folder: Path, fingerprint: dict[str, Any], *, reset_stale: bool = False, read_only: bool = False
    ) -> ImageVectorStore:
        """Read the metadata of every file in `folder` (created when missing).

        reset_stale: delete files made by another encoder instead of raising StaleVectors. read_only: touch no
        file (a writer in another process may be renaming its temporary files right now).
        """
        store = cls(folder, fingerprint)
        folder.mkdir(parents=True, exist_ok=True)
        for tmp in () if read_only else folder.glob(".tmp-*"):  # left by a write that was killed
            tmp.unlink(missing_ok=True)
        for path in sorted(folder.glob("*.npz")):
            try:
                with np.load(path, allow_pickle=False) as data:
                    header = json.loads(str(data["header"]))
                    entry = DocVectors(
                        doc=header["doc"], file=path.name, token=header["token"], ids=data["ids"].astype(np.int64),
                        element_ids=data["element_ids"], kinds=data["kinds"], pages=data["pages"].astype(np.int32),
                    )
            except Exception as exc:  # atomic writes make this unlikely; the document will be re-ingested
                log.warning("image channel: ignoring unreadable vector file %s (%s)", path, exc)
                continue
            if header.get("fingerprint") != fingerprint:
                if not reset_stale:
                    raise StaleVectors(
                        f"image vectors in {folder.parent} were made with {header.get('fingerprint')}, not "
                        f"{fingerprint}; re-embed the images (delete the folder or open with reset_stale=True, "
                        "then re-index)"
                    )
                path.unlink(missing_ok=True)
                continue
            store._remember(entry)
        return store

    # reading --------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[DocVectors]:
        return iter(list(self._docs.values()))

    def docs(self) -> set[str]:
        return set(self._docs)

    def tokens(self) -> dict[str, str]:
        """Document → token of its current file."""
        return {d.doc: d.token for d in self._docs.values()}

    def count(self) -> int:
        return sum(len(d.ids) for d in self._docs.values())

    def ids(self) -> np.ndarray:
        """Every point id, in file order."""
        if not self._docs:
            return np.zeros(0, np.int64)
        return np.concatenate([d.ids for d in self._docs.values()])

    def element_id(self, point_id: int) -> str:
        return self._element_of[point_id]

    def vectors(self, entry: DocVectors) -> np.ndarray:
        """The vectors of one document's file, in the order of `entry.ids`."""
        with np.load(self.folder / entry.file, allow_pickle=False) as data:
            return np.ascontiguousarray(data["vectors"], dtype=np.float32)

    def all_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, ids) of every document, for one batched index build."""
        entries = list(self._docs.values())
        if not entries:
            return np.zeros((0, dim), np.float32), np.zeros(0, np.int64)
        return np.concatenate([self.vectors(e) for e in entries]), np.concatenate([e.ids for e in entries])

    def select(self, flt: SearchFilter | None) -> np.ndarray | None:
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

    # writing --------------------------------------------------------------------------------
    def put(self, doc: str, elements: Sequence[Element], vectors: np.ndarray) -> np.ndarray:
        """Merge vectors into the document's file (same ids are replaced); returns the ids that were replaced.

        The new vectors' ids are `[e.point_id for e in elements]`, in order.
        """
        ids = np.array([e.point_id for e in elements], dtype=np.int64)
        element_ids = np.array([e.id for e in elements])
        kinds = np.array([e.kind for e in elements])
        pages = np.array([e.page for e in elements], dtype=np.int32)
        old = self._docs.get(doc)
        replaced = np.zeros(0, np.int64)
        if old is not None:
            keep = ~np.isin(old.ids, ids)
            replaced = old.ids[~keep]
            vectors = np.concatenate([self.vectors(old)[keep], vectors])
            ids = np.concatenate([old.ids[keep], ids])
            element_ids = np.concatenate([old.element_ids[keep], element_ids])
            kinds = np.concatenate([old.kinds[keep], kinds])
            pages = np.concatenate([old.pages[keep], pages])
        entry = DocVectors(doc, doc_file_name(doc), uuid.uuid4().hex, ids, element_ids, kinds, pages)
        header = {"doc": doc, "token": entry.token, "fingerprint": self.fingerprint}
        buffer = io.BytesIO()
        np.savez(buffer, header=np.array(json.dumps(header)), ids=ids, element_ids=element_ids, kinds=kinds,
                 pages=pages, vectors=vectors.astype(np.float32))
        atomic_write_bytes(self.folder / entry.file, buffer.getvalue())
        self._remember(entry)
        return replaced

    def delete(self, docs: Iterable[str]) -> np.ndarray:
        """Delete the files of these documents; returns the point ids they held."""
        removed: list[np.ndarray] = []
        for doc in docs:
            entry = self._docs.pop(doc, None)
            if entry is None:
                continue
            (self.folder / entry.file).unlink(missing_ok=True)
            for pid in entry.ids.tolist():
                self._element_of.pop(pid, None)
            removed.append(entry.ids)
        self._table = None
        return np.concatenate(removed) if removed else np.zeros(0, np.int64)

    def _remember(self, entry: DocVectors) -> None:
        self._docs[entry.doc] = entry
        self._element_of.update(zip(entry.ids.tolist(), entry.element_ids.tolist()))
        self._table = None

    def _metadata_table(self) -> dict[str, np.ndarray]:
        if self._table is None:
            entries = list(self._docs.values())
            self._table = {
                "ids": self.ids(),
                "docs": np.concatenate([np.full(len(e.ids), e.doc, dtype=object) for e in entries])
                if entries else np.zeros(0, object),
                "kinds": np.concatenate([e.kinds for e in entries]) if entries else np.zeros(0, str),
                "pages": np.concatenate([e.pages for e in entries]) if entries else np.zeros(0, np.int32),
            }
        return self._table
