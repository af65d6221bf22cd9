"""Ingest orchestration: PDFs → elements in the store → vectors in every channel, per document, resumable.

Every step works on the index's parts (`IndexParts`: store, settings, channels, models) that the facade hands it.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.errors import MMRagError
from mmrag.ingest.clock import StageClock
from mmrag.ingest.heap import fix_mmap_threshold, trim_heap
from mmrag.pipelines.purge import prune_missing, recover_interrupted
from mmrag.settings import usable_cores
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
    # seconds per stage: {"main": {stage: s}, "worker N": {"stages": {stage: s}, "pages", "cpu_s", ...}, "wall_s": s,
    # "main_cpu_s": s, "cores": n}; empty when nothing was parsed. Not part of to_dict(): `mmrag index --profile`
    # shows it.
    profile: dict[str, Any] = field(default_factory=dict)

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


class Parsing:
    """Changed documents handed to the parse workers ahead of the main process's model loads (`start_parsing`).

    The workers boot and take their first documents on a thread, so that the main process loads its models
    meanwhile; `events()` waits for that and yields the pool's events, `cancel()` stops the workers.
    """

    def __init__(self, store: ElementStore, settings: IngestSettings, files: Sequence[tuple[Path, str]]) -> None:
        self.started, self.started_at = time.perf_counter(), time.time()
        self.cpu_started = time.process_time()  # the main process's CPU seconds, all its threads
        fix_mmap_threshold(settings.heap_mmap_kb)  # this process encodes and writes what the workers parse
        self.report = IndexReport()
        planned = changed_documents(store, files, self.report)
        self.shas = {doc: sha for _, doc, sha in planned}
        self.tasks: list[Task] = []
        self.pool: Any = None
        self._events: Iterator[tuple[Task, str, Any]] | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if planned:
            from mmrag.pipelines.workers import Task

            db = str(store.root / "elements.db")
            self.tasks = [Task(str(path), doc, settings, cache_db=db) for path, doc, _ in planned]
            self._thread = threading.Thread(target=self._start, args=(settings,), daemon=True, name="mmrag-dispatch")
            self._thread.start()

    def _start(self, settings: IngestSettings) -> None:
        from mmrag.pipelines.workers import shared_pool

        try:
            self.pool = shared_pool(min(settings.workers or usable_cores(), len(self.tasks)))
            self._events = self.pool.run(self.tasks)
        except BaseException as exc:  # raised where the events are asked for
            self._error = exc

    def events(self) -> Iterator[tuple[Task, str, Any]]:
        """The pool's (task, kind, payload) events, in document order."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._events if self._events is not None else iter(())

    def cancel(self) -> None:
        """Stop the workers parsing these documents (e.g. when the index cannot take them)."""
        if self._thread is not None:
            self._thread.join()
        if self.pool is not None:
            self.pool.abort()


def start_parsing(store: ElementStore, settings: IngestSettings, files: Sequence[tuple[Path, str]]) -> Parsing:
    """Hand the new and changed files to the parse workers now; `index_documents(..., parsing=)` writes them."""
    return Parsing(store, settings, files)


def index_documents(
    parts: IndexParts, files: Sequence[tuple[Path, str]], progress: Progress | None = None, prune: bool = False,
    parsing: Parsing | None = None,
) -> IndexReport:
    """Add or replace each changed document; unchanged ones are skipped by content hash.

    Parsing, rendering and OCR run in worker processes (settings.ingest.workers); fragments of a few pages
    come back in document order and go to the store and the channels here, so memory stays bounded by the
    batch and queue sizes whatever the corpus. parsing: the same files already handed to the workers by
    `start_parsing` (e.g. before the models loaded).
    """
    if parsing is None:
        parsing = start_parsing(parts.store, parts.settings.ingest, files)
    report = parsing.report
    try:
        report.resumed.extend(recover_interrupted(parts))
    except BaseException:
        parsing.cancel()
        raise
    tasks = parsing.tasks
    if tasks:
        clock = StageClock()
        try:
            with clock.stage("open channels"):
                channels = parts.channels.open()
        except BaseException:
            parsing.cancel()
            raise
        writer = _DocumentWriter(parts, report, progress, len(tasks), clock)
        loaders = []
        for channel in channels.values():  # load weights while the first pages parse
            load = getattr(getattr(channel, "encoder", None), "load_weights", None)
            if load is not None:
                loaders.append(threading.Thread(target=_quietly, args=(load,), daemon=True, name="mmrag-load-encoder"))
                loaders[-1].start()
        counted_before = _encoder_counts(channels)
        try:
            with _timed_encoders(channels, clock):
                with clock.stage("wait for parse"):
                    events = parsing.events()
                while True:
                    with clock.stage("wait for parse"):
                        event = next(events, None)
                    if event is None:
                        break
                    task, kind, payload = event
                    writer.event(task, parsing.shas[task.doc], kind, payload)
        finally:
            parsing.cancel()  # workers left parsing by an error are stopped (a finished run has none)
            for loader in loaders:  # a process must not exit while native code builds a model on a thread
                loader.join()
        workers = {name: w.to_dict() for name, w in parsing.pool.profile.items()}
        firsts = [w["first_page_at"] for w in workers.values() if w["first_page_at"]]
        report.profile = {"wall_s": time.perf_counter() - parsing.started, "started_at": parsing.started_at,
                          "main": clock.take(), "main_cpu_s": time.process_time() - parsing.cpu_started,
                          "cores": usable_cores(),
                          "first_page_s": min(firsts) - parsing.started_at if firsts else None, **workers}
        encoded = {name: {k: n - counted_before[name].get(k, 0) for k, n in counts.items()}
                   for name, counts in _encoder_counts(channels).items() if name in counted_before}
        if any(c.get("tokens") for c in encoded.values()):
            report.profile["encoded"] = encoded
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


class _TimedEncoder:
    """An encoder whose encode* calls count as one stage of a clock (everything else passes through)."""

    def __init__(self, encoder: Any, clock: StageClock, name: str) -> None:
        self._encoder, self._clock, self._name = encoder, clock, name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._encoder, attr)
        if not attr.startswith("encode") or not callable(value):
            return value

        def run(*args: Any, **kwargs: Any) -> Any:
            with self._clock.stage(self._name):
                return value(*args, **kwargs)

        return run


@contextmanager
def _timed_encoders(channels: Mapping[str, Any], clock: StageClock) -> Iterator[None]:
    """For the run: each channel's encoder counted as the stage "encode <channel>" (the rest of `add` is its
    write)."""
    swapped = []
    for name, channel in channels.items():
        encoder = getattr(channel, "encoder", None)
        if encoder is not None:
            channel.encoder = _TimedEncoder(encoder, clock, f"encode {name}")
            swapped.append((channel, encoder))
    try:
        yield
    finally:
        for channel, encoder in swapped:
            channel.encoder = encoder


def _encoder_counts(channels: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """What each channel's encoder has read so far, where it counts (`OnnxTextEncoder.counted`: texts, tokens,
    tokens with padding)."""
    out = {}
    for name, channel in channels.items():
        counted = getattr(getattr(channel, "encoder", None), "counted", None)
        if isinstance(counted, dict):
            out[name] = dict(counted)
    return out


def _quietly(fn: Any) -> None:
    """Run fn, leaving any failure to surface where the result is needed (the first encode)."""
    try:
        fn()
    except Exception:
        log.debug("early model load failed", exc_info=True)


class _DocumentWriter:
    """Writes streamed fragments of each document to the store and the channels, in order (main process only)."""

    def __init__(
        self, parts: IndexParts, report: IndexReport, progress: Progress | None, total: int, clock: StageClock
    ) -> None:
        self.parts = parts
        self.clock = clock
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
        with self.clock.stage("store"):  # the element store and bookkeeping: what the nested stages leave
            self._event(task, sha, kind, payload)
        if self.parts.settings.ingest.release_memory:
            # What the fragment left freed (its unpickled pixels and elements, the encoder's batches) goes back to
            # the system: glibc keeps the free pages inside its heaps otherwise, and this process's heap crept
            # from ~190 to ~230 MB over 12 short reports (malloc_trim here: ~185 MB throughout)
            with self.clock.stage("release"):
                trim_heap()

    def _event(self, task: Task, sha: str, kind: str, payload: Any) -> None:
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
            for name, channel in self.channels.items():
                with self.clock.stage(f"write {name}"):
                    channel.flush()
            store.finish_document(doc, {"ocr_pages": self.ocr_pages, "warnings": self.warnings})
            self.report.added.append(doc)
            self.report.warnings.extend(f"{doc}: {w}" for w in self.warnings)
        else:
            reason = str(payload) if kind in (FAILED, TIMEOUT) else "no pages came back"
            if self.started:  # nothing of a failed document is kept
                for name, channel in self.channels.items():
                    with self.clock.stage(f"write {name}"):
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
            for name, channel in self.channels.items():
                with self.clock.stage(f"write {name}"):
                    channel.delete_docs([task.doc])
            self.started = True
            self.pages_total += part.pages
        for key, data in part.pixels.items():
            store.put_pixels(data, key.rsplit(".", 1)[-1])
        self.warnings.extend(part.warnings)
        self.ocr_pages.extend(part.ocr_pages)
        if not part.elements:
            return
        with self.clock.stage("describe figures"):
            describe_figures(self.parts, part.elements)
        store.add_elements(task.doc, part.elements, self.count)
        self.count += len(part.elements)
        for name, channel in self.channels.items():
            with self.clock.stage(f"write {name}"):  # its encoder's time counts as "encode <name>"
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


WORKER_STAGES = ("open", "text", "layout", "tables", "render", "ocr", "ocr wait", "release", "send")
WAITING = ("send", "ocr wait")  # a worker's stages that wait (a full pipe, another worker's OCR read)
MAIN_STAGES = ("open channels", "wait for parse", "store", "describe figures")


def profile_table(profile: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A run's profile (`IndexReport.profile`) as a table: one row per stage, a column per process (seconds).

    After the stages, for each encoder that counts them: the tokens it read and the padding its batches added,
    and tokens per second of its stage (the load that bounds most runs on CPU). The last rows: pages parsed,
    documents, the largest resident size a worker reported after a document, and the share of the wall time each
    process was busy (a worker: not counting "send", which includes the time its pipe was full, nor "ocr wait",
    its turn at OCR; the main process: not counting "wait for parse"), which shows what bounds the run; then each
    process's CPU seconds and the cores the run kept busy on average (all processes' CPU over the wall time): near
    the machine's cores, the run is bound by compute, not by waiting.
    """
    workers = sorted((k for k in profile if k.startswith("worker ")), key=lambda k: int(k.split()[1]))
    main: dict[str, float] = dict(profile.get("main", {}))
    stages = [s for s in MAIN_STAGES if s in main] + sorted(s for s in main if s not in MAIN_STAGES)
    seen = {s for w in workers for s in profile[w]["stages"]}
    stages += [s for s in WORKER_STAGES if s in seen] + sorted(seen - set(WORKER_STAGES))
    stages = list(dict.fromkeys(stages))  # a stage of both (release) is one row
    header = ["stage", "main", *workers]
    rows = []
    for s in stages:
        cells = [main.get(s)] + [profile[w]["stages"].get(s) for w in workers]
        rows.append([s, *("" if v is None else f"{v:.1f}" for v in cells)])
    wall = float(profile.get("wall_s", 0.0)) or 1.0
    for name, counted in profile.get("encoded", {}).items():  # the encoder's load: what bounds most runs
        tokens, padded = int(counted.get("tokens", 0)), int(counted.get("padded", 0))
        if not tokens:
            continue
        rows.append([f"tokens encoded ({name})", f"{tokens:,} (+{padded / tokens - 1:.1%} padding)",
                     *("" for _ in workers)])
        seconds = main.get(f"encode {name}")
        if seconds:
            rows.append([f"tokens/s encoding ({name})", f"{tokens / seconds:,.0f}", *("" for _ in workers)])
    rows.append(["pages", "", *(str(profile[w]["pages"]) for w in workers)])
    rows.append(["documents", "", *(str(profile[w]["documents"]) for w in workers)])
    rows.append(["peak MB (resident)", "", *(f"{profile[w]['peak_rss_mb']:.0f}" for w in workers)])
    rows.append(["MB after a document", "", *(f"{profile[w]['rss_mb']:.0f}" + (" (retired)" * profile[w]["retired"])
                                              for w in workers)])
    busy_main = sum(v for k, v in main.items() if k != "wait for parse")
    busy = [sum(v for k, v in profile[w]["stages"].items() if k not in WAITING) for w in workers]
    rows.append([f"busy (of {wall:.1f} s)", f"{100 * busy_main / wall:.0f}%",
                 *(f"{100 * b / wall:.0f}%" for b in busy)])
    if profile.get("main_cpu_s") is not None:
        cpu = [float(profile["main_cpu_s"]), *(float(profile[w].get("cpu_s", 0.0)) for w in workers)]
        rows.append(["CPU s (all threads)", *(f"{c:.1f}" for c in cpu)])
        cores = profile.get("cores")
        rows.append([f"cores used (of {cores})" if cores else "cores used", f"{sum(cpu) / wall:.2f}",
                     *("" for _ in workers)])
    if profile.get("first_page_s") is not None:
        rows.append(["first page parsed (s)", f"{profile['first_page_s']:.1f}", *("" for _ in workers)])
    return header, rows
