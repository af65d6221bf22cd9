"""Ingest orchestration: PDFs → elements in the store → vectors in every channel, per document, resumable."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.errors import BadPDF, MMRagError
from mmrag.store import INDEXING, READY, sha256_file

if TYPE_CHECKING:
    from mmrag.pipelines.index import MMIndex

log = logging.getLogger(__name__)

# stage name, done, total
Progress = Callable[[str, int, int], None]


@dataclass
class IndexReport:
    """What one `add` run did."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # {"path", "doc", "reason"}
    warnings: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "unchanged": self.unchanged, "failed": self.failed,
                "warnings": self.warnings, "resumed": self.resumed, "removed": self.removed}


def discover_pdfs(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """(file, document name) for every PDF under the paths; folders are walked recursively.

    A file given directly is named by its file name; a file found in a folder by its path relative to it.
    Files given directly are kept whatever their suffix, so that a bad file gets a clear error.
    """
    found: dict[str, Path] = {}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() == ".pdf":
                    found.setdefault(f.relative_to(p).as_posix(), f)
        elif p.exists():
            found.setdefault(p.name, p)
        else:
            raise MMRagError(f"{p}: no such file or folder")
    return [(path, doc) for doc, path in sorted(found.items())]


def recover_interrupted(index: MMIndex, report: IndexReport | None = None) -> list[str]:
    """Purge documents a killed run left half-written, and vectors of documents the store no longer has."""
    store = index.store
    broken = [d["doc"] for d in store.documents(status=INDEXING)]
    known = {d["doc"] for d in store.documents()}
    for channel in index.channels.values():
        orphans = channel.docs() - known
        if broken or orphans:
            channel.delete_docs(set(broken) | orphans)
    for doc in broken:
        store.delete_document(doc)
    if report is not None:
        report.resumed.extend(broken)
    return broken


def index_documents(
    index: MMIndex, files: Sequence[tuple[Path, str]], progress: Progress | None = None, prune: bool = False
) -> IndexReport:
    """Add or replace each changed document; unchanged ones are skipped by content hash."""
    from mmrag.ingest import parse_pdf

    report = IndexReport()
    recover_interrupted(index, report)
    store = index.store
    total = len(files)
    for i, (path, doc) in enumerate(files):
        if progress:
            progress("documents", i, total)
        try:
            sha = sha256_file(path)
        except OSError as exc:
            report.failed.append({"path": str(path), "doc": doc, "reason": exc.strerror or str(exc)})
            continue
        existing = store.document(doc)
        if existing and existing["sha256"] == sha and existing["status"] == READY:
            report.unchanged.append(doc)
            continue
        try:
            parsed = parse_pdf(
                path, doc, index.settings.ingest, store.put_pixels, ocr=index.ocr,
                progress=(lambda d, t: progress("pages", d, t)) if progress else None,
            )
        except BadPDF as exc:
            report.failed.append({"path": str(path), "doc": doc, "reason": exc.reason})
            log.warning("skipped %s", exc)
            continue
        except Exception as exc:  # a parser bug on one file must not take the run down
            report.failed.append({"path": str(path), "doc": doc, "reason": f"unexpected error: {exc!r}"})
            log.exception("failed on %s", path)
            continue
        report.warnings.extend(f"{doc}: {w}" for w in parsed.warnings)
        index.describe_figures(parsed.elements)
        # Mark the document as being written before touching any channel: a kill from here on leaves
        # it `indexing`, which the next run purges and redoes. Searches only see `ready` documents.
        store.begin_document(doc, str(path), sha, parsed.pages, parsed.elements)
        for channel in index.channels.values():
            channel.delete_docs([doc])
        for name, channel in index.channels.items():
            channel.add(parsed.elements, store.read_pixels)
            channel.flush()
            if progress:
                progress(f"embed:{name}", i + 1, total)
        store.finish_document(doc, {"ocr_pages": parsed.ocr_pages, "warnings": parsed.warnings})
        report.added.append(doc)
    if prune:
        seen = {doc for _, doc in files}
        for d in store.documents():
            if d["doc"] not in seen:
                index.remove(d["doc"])
                report.removed.append(d["doc"])
    if progress:
        progress("documents", total, total)
    return report


def reembed(index: MMIndex, progress: Progress | None = None, channels: Sequence[str] | None = None) -> int:
    """Re-create channels' vectors from the stored elements (after a model or settings change); no re-parsing."""
    store = index.store
    docs = [d["doc"] for d in store.documents(status=READY)]
    targets = [ch for name, ch in index.channels.items() if channels is None or name in channels]
    for channel in targets:
        channel.delete_docs(set(channel.docs()))
    for i, doc in enumerate(docs):
        elements = list(store.elements(doc=doc))
        for channel in targets:
            channel.add(elements, store.read_pixels)
            channel.flush()
        if progress:
            progress("re-embed", i + 1, len(docs))
    return len(docs)
