"""Ingest orchestration: PDFs → elements in the store → vectors in every channel, per document, resumable.

Every step works on the index's parts (`IndexParts`: store, settings, channels, models) that the facade hands it.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.errors import MMRagError
from mmrag.pipelines.purge import prune_missing, recover_interrupted
from mmrag.store import INDEXING, READY, ElementStore, sha256_file

if TYPE_CHECKING:
    from mmrag.elements import Element
    from mmrag.ingest.parse import ParsedDocument
    from mmrag.pipelines.parts import IndexParts
    from mmrag.pipelines.workers import Task
    from mmrag.settings import IngestSettings

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


def needs_work(store: ElementStore, files: Sequence[tuple[Path, str]]) -> bool:
    """Whether any file is new or changed, or a killed run left a document half-written."""
    if store.documents(status=INDEXING):
        return True
    for path, doc in files:
        existing = store.document(doc)
        try:
            if not existing or existing["status"] != READY or existing["sha256"] != sha256_file(path):
                return True
        except OSError:
            continue  # index_documents reports it
    return False


def warm_workers(settings: IngestSettings, documents: int) -> None:
    """Boot the parser processes ahead of time (no more than there are documents)."""
    from mmrag.pipelines.workers import default_workers, shared_pool

    n = min(settings.workers or default_workers(), documents)
    shared_pool(n).warm(n)


def index_documents(
    parts: IndexParts, files: Sequence[tuple[Path, str]], progress: Progress | None = None, prune: bool = False
) -> IndexReport:
    """Add or replace each changed document; unchanged ones are skipped by content hash.

    Parsing, rendering and OCR run in worker processes (settings.ingest.workers); fragments of a few pages
    come back in document order and go to the store and the channels here, so memory stays bounded by the
    batch and queue sizes whatever the corpus.
    """
    report = IndexReport()
    report.resumed.extend(recover_interrupted(parts))
    store = parts.store
    settings = parts.settings.ingest
    tasks: list[Task] = []
    planned = changed_documents(store, files, report)
    todo = [(path, doc) for path, doc, _ in planned]
    shas = {doc: sha for _, doc, sha in planned}
    if todo:
        from mmrag.pipelines.workers import Task, default_workers, shared_pool  # pymupdf: only when parsing

        tasks = [Task(str(path), doc, settings, cache_db=str(store.root / "elements.db")) for path, doc in todo]
        writer = _DocumentWriter(parts, report, progress, len(tasks))
        loaders = []
        for channel in parts.channels.open().values():  # load weights while the first pages parse
            load = getattr(getattr(channel, "encoder", None), "load_weights", None)
            if load is not None:
                loaders.append(threading.Thread(target=_quietly, args=(load,), daemon=True, name="mmrag-load-encoder"))
                loaders[-1].start()
        pool = shared_pool(min(settings.workers or default_workers(), len(tasks)))
        try:
            for task, kind, payload in pool.run(tasks):
                writer.event(task, shas[task.doc], kind, payload)
        finally:
            for loader in loaders:  # a process must not exit while native code builds a model on a thread
                loader.join()
    if prune:
        report.removed.extend(prune_missing(parts, files))
    if progress and tasks:
        progress("documents", len(tasks), len(tasks))
    return report


def describe_figures(parts: IndexParts, elements: Sequence[Element]) -> None:
    """Give figures a generated description when a captioning model is configured (cached by pixels)."""
    if not parts.settings.captioner.model:
        return
    figures = [e for e in elements if e.kind == "figure" and e.image]
    if not figures:
        return
    from PIL import Image

    captioner = parts.models.captioner(parts.settings.captioner)
    images = [Image.open(io.BytesIO(parts.store.read_pixels(e.image))).convert("RGB") for e in figures]
    for e, t in zip(figures, captioner.caption(images)):
        if t:
            e.meta["generated_caption"] = t
            e.text = (e.text + "\n" if e.text else "") + f"[generated description] {t}"


def changed_documents(
    store: ElementStore, files: Sequence[tuple[Path, str]], report: IndexReport
) -> list[tuple[Path, str, str]]:
    """(path, doc, sha256) of the files to (re)index; unchanged and unreadable ones go into the report."""
    todo: list[tuple[Path, str, str]] = []
    for path, doc in files:
        try:
            sha = sha256_file(path)
        except OSError as exc:
            report.failed.append({"path": str(path), "doc": doc, "reason": exc.strerror or str(exc)})
            continue
        existing = store.document(doc)
        if existing and existing["sha256"] == sha and existing["status"] == READY:
            report.unchanged.append(doc)
            continue
        todo.append((path, doc, sha))
    return todo


def _quietly(fn: Any) -> None:
    """Run fn, leaving any failure to surface where the result is needed (the first encode)."""
    try:
        fn()
    except Exception:
        log.debug("early model load failed", exc_info=True)


class _DocumentWriter:
    """Writes streamed fragments of each document to the store and the channels, in order (main process only)."""

    def __init__(self, parts: IndexParts, report: IndexReport, progress: Progress | None, total: int) -> None:
        self.parts = parts
        self.channels = parts.channels.open()
        self.report = report
        self.progress = progress
        self.total = total
        self.done_docs = 0
        self.pages_total = 0
        self.pages_done = 0
        self.started = False
        self.count = 0
        self.last_page = 0
        self.warnings: list[str] = []
        self.ocr_pages: list[int] = []

    def event(self, task: Task, sha: str, kind: str, payload: Any) -> None:
        from mmrag.pipelines.workers import DONE, FAILED, PART, TIMEOUT

        if kind == PART:
            part, ocr_cache = payload
            self._part(task, sha, part, ocr_cache)
            return
        store, doc = self.parts.store, task.doc
        if kind == TIMEOUT and self.count:
            self.warnings.append(f"truncated after page {self.last_page}: {payload}")
            kind = DONE
        if kind == DONE and self.started:
            for channel in self.channels.values():
                channel.flush()
            store.finish_document(doc, {"ocr_pages": self.ocr_pages, "warnings": self.warnings})
            self.report.added.append(doc)
            self.report.warnings.extend(f"{doc}: {w}" for w in self.warnings)
        else:
            reason = str(payload) if kind in (FAILED, TIMEOUT) else "no pages came back"
            if self.started:  # nothing of a failed document is kept
                for channel in self.channels.values():
                    channel.delete_docs([doc])
                    channel.flush()
                store.delete_document(doc)
            self.report.failed.append({"path": task.path, "doc": doc, "reason": reason})
            log.warning("skipped %s: %s", task.path, reason)
        self.done_docs += 1
        self.started, self.count, self.last_page, self.warnings, self.ocr_pages = False, 0, 0, [], []
        if self.progress:
            self.progress("documents", self.done_docs, self.total)

    def _part(self, task: Task, sha: str, part: ParsedDocument, ocr_cache: dict[str, str]) -> None:
        store = self.parts.store
        for key, value in ocr_cache.items():
            store.cache_put(key, value)
        if not self.started:
            # Mark the document as being written before touching any channel: a kill from here on leaves
            # it `indexing`, which the next run purges and redoes. Searches only see `ready` documents.
            store.begin_document(task.doc, task.path, sha, part.pages, [])
            for channel in self.channels.values():
                channel.delete_docs([task.doc])
            self.started = True
            self.pages_total += part.pages
        for key, data in part.pixels.items():
            store.put_pixels(data, key.rsplit(".", 1)[-1])
        self.warnings.extend(part.warnings)
        self.ocr_pages.extend(part.ocr_pages)
        if not part.elements:
            return
        describe_figures(self.parts, part.elements)
        store.add_elements(task.doc, part.elements, self.count)
        self.count += len(part.elements)
        for channel in self.channels.values():
            channel.add(part.elements, store.read_pixels)
        pages = part.elements[-1].page - self.last_page
        self.last_page = part.elements[-1].page
        self.pages_done += pages
        if self.progress:
            self.progress("pages", self.pages_done, self.pages_total)


def reembed(parts: IndexParts, progress: Progress | None = None, channels: Sequence[str] | None = None) -> int:
    """Re-create channels' vectors from the stored elements (after a model or settings change); no re-parsing."""
    store = parts.store
    docs = [d["doc"] for d in store.documents(status=READY)]
    targets = [ch for name, ch in parts.channels.open().items() if channels is None or name in channels]
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
