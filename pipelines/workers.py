"""Worker processes that parse, render and OCR PDFs, streaming page batches back in document order.

The main process owns the element store and the channels; workers only read PDFs (and the OCR cache, read-only)
and send back elements with their pixels. A worker that crashes (segfault, out of memory) fails its document
and is replaced; one that runs past `max_seconds` on a document is killed there, even inside C code, and the
document keeps the pages it had sent.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.errors import BadPDF
from mmrag.ingest.clock import CLOCK, add_seconds, stage
from mmrag.ingest.heap import fix_mmap_threshold, mmap_threshold_env, trim_heap
from mmrag.ingest.ocr import ReadSlots, free_decoded_images, shrink_decoded_images
from mmrag.settings import IngestSettings

if TYPE_CHECKING:  # the parser (PyMuPDF) loads in the workers; the main process only dispatches
    from mmrag.ingest.parse import ParsedDocument

log = logging.getLogger(__name__)

# Event kinds a task yields, in order: "part" (a ParsedDocument fragment; the first has no elements) ... then
# one of "done", "failed" (payload: the reason; nothing of the document is kept) or "timeout" (the reason;
# the fragments already sent stand).
PART, DONE, FAILED, TIMEOUT = "part", "done", "failed", "timeout"


def parse_document(path: str | Path, settings: IngestSettings, doc: str | None = None) -> ParsedDocument:
    """Parse one PDF into a ParsedDocument whose `pixels` holds every crop and render by store key.

    A plain, picklable function with no store or model handles: it runs in a pool worker, a Ray task or in
    process. doc: the document's name in the index (default: the file name). The OCR engine named by
    settings.ocr loads once per process, on first need. Raises BadPDF (encrypted, corrupt, empty, too long).
    """
    from mmrag.ingest.ocr import OCRLimits, set_limits
    from mmrag.ingest.parse import stream_pdf

    set_limits(OCRLimits.from_settings(settings))
    result: ParsedDocument | None = None
    for part in stream_pdf(path, doc or Path(path).name, settings, batch_pages=settings.batch_pages):
        if result is None:
            result = part
        else:
            result.extend(part)
    assert result is not None
    return result


@dataclass
class Task:
    """One document to parse. `cache_db`: an elements.db to read cached OCR results from (read-only)."""

    path: str
    doc: str
    settings: IngestSettings
    cache_db: str | None = None
    # scheduler state
    events: deque[tuple[str, Any]] = field(default_factory=deque)
    finished: bool = False
    waited: float = 0.0  # seconds the scheduler listened while this task ran: its clock for max_seconds
    sent_parts: int = 0


@dataclass
class WorkerProfile:
    """What one parse worker did during a run: seconds per stage, pages, documents, memory after a document."""

    stages: dict[str, float] = field(default_factory=dict)
    pages: int = 0
    documents: int = 0
    rss_mb: float = 0.0  # the largest resident size it reported after letting a document go
    peak_rss_mb: float = 0.0  # its resident size at its peak (while parsing)
    retired: bool = False  # it left after its last document (worker_max_pages / worker_max_rss_mb)
    first_page_at: float = 0.0  # when (time.time()) it finished parsing its first page in the run
    frozen_objects: int = 0  # objects it inherited and froze for the garbage collector (see `_worker_main`)
    cpu_s: float = 0.0  # CPU seconds it spent on the run's documents (all its threads)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": {k: round(v, 3) for k, v in self.stages.items()}, "pages": self.pages,
                "documents": self.documents, "rss_mb": round(self.rss_mb, 1),
                "peak_rss_mb": round(self.peak_rss_mb, 1), "retired": self.retired,
                "first_page_at": self.first_page_at, "frozen_objects": self.frozen_objects,
                "cpu_s": round(self.cpu_s, 3)}


class _ReadOnlyCache:
    """The OCR cache as a worker sees it: reads from the index's SQLite file, new entries go back to main."""

    _connections: dict[str, sqlite3.Connection] = {}

    def __init__(self, db: str | None) -> None:
        self.db = db
        self.new: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        if key in self.new:
            return self.new[key]
        if not self.db or not os.path.exists(self.db):
            return None
        try:
            conn = self._connections.get(self.db)
            if conn is None:
                conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, check_same_thread=False)
                self._connections[self.db] = conn
            row = conn.execute("SELECT value FROM cache WHERE key=?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        self.new[key] = value


def _worker_main(conn: Connection, ocr_slots: ReadSlots | None = None) -> None:
    """Serve tasks until told to stop: each document streams back as (kind, payload, stats) messages.

    stats: this worker's stage seconds since its last message, pages parsed and, with a document's last message,
    its memory after the document was let go and whether it retires now (settings.worker_max_pages and
    worker_max_rss_mb: a new process takes its place, so memory a parse left behind goes with it).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    # What the forkserver imported is shared with it until written to, and the garbage collector writes to every
    # object it visits: frozen, the inherited objects are never visited, so their pages stay shared
    gc.freeze()
    frozen = gc.get_freeze_count()
    from mmrag.ingest.ocr import OCRLimits, set_limits, set_read_slots
    from mmrag.ingest.parse import stream_pdf

    set_read_slots(ocr_slots)

    pages = 0
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        path, doc, settings, cache_db = task
        set_limits(OCRLimits.from_settings(settings))  # what one OCR read may cost, by this task's settings
        fix_mmap_threshold(settings.heap_mmap_kb)
        cache = _ReadOnlyCache(cache_db)
        sent = 0.0  # seconds the last message took to go (blocked while the main process is behind)
        CLOCK.first_page_at = 0.0
        cpu = time.process_time()  # CPU seconds are counted from here, message by message
        try:
            for part in stream_pdf(path, doc, settings, ocr_cache=cache, batch_pages=settings.batch_pages):
                part_cache, cache.new = cache.new, {}
                n = sum(1 for e in part.elements if e.kind == "page")
                pages += n
                now = time.process_time()
                used, cpu = now - cpu, now
                stats = {"stages": {**CLOCK.take(), "send": sent}, "pages": n, "first_page_at": CLOCK.first_page_at,
                         "cpu_s": used}
                t0 = time.perf_counter()
                conn.send((PART, (part, part_cache), stats))
                sent = time.perf_counter() - t0
                del part
                shrink_decoded_images(settings.mupdf_store_shrink)
                if settings.release_memory:
                    # what the batch's pages left in the heap goes back now, not after the document: a long
                    # document's later pages otherwise parse on top of its earlier ones' (EIA STEO, 59 pages:
                    # 320 MB resident after its last batch, 250 with this)
                    with stage("release"):
                        trim_heap()
            end: tuple[str, Any] = (DONE, None)
        except BadPDF as exc:
            end = (FAILED, exc.reason)
        except MemoryError:
            end = (FAILED, "out of memory while parsing")
        except Exception as exc:  # a parser bug on one file must not take the worker down
            log.debug("worker failed on %s", path, exc_info=True)
            end = (FAILED, f"unexpected error: {exc!r}")
        if settings.release_memory:
            with stage("release"):
                release_memory()
        rss, peak = _memory_mb()
        retire = ""
        if settings.worker_max_pages and pages >= settings.worker_max_pages:
            retire = f"{pages} pages parsed (worker_max_pages={settings.worker_max_pages})"
        elif settings.worker_max_rss_mb and peak >= settings.worker_max_rss_mb:
            # the peak, not what is left: a heap a large parse spread out stays fragmented after trimming, and the
            # next document's peak lands on top of it (12 short reports: worker peaks 650-670 MB in one process,
            # at most 570 MB when each heavy document left its process)
            retire = f"{peak:.0f} MB resident at its peak (worker_max_rss_mb={settings.worker_max_rss_mb})"
        conn.send((*end, {"stages": {**CLOCK.take(), "send": sent}, "pages": 0, "rss_mb": rss, "peak_rss_mb": peak,
                          "retire": retire, "frozen_objects": frozen, "cpu_s": time.process_time() - cpu}))
        if retire:
            return


def release_memory() -> None:
    """Empty MuPDF's store and hand the C heap's free pages back to the system (glibc keeps them otherwise)."""
    import gc

    gc.collect()
    free_decoded_images()


def _memory_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak, in MB (Linux; zeros elsewhere)."""
    found = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line[:5]] = int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


class _Worker:
    def __init__(self, ctx: Any, serial: int = 0, ocr_slots: ReadSlots | None = None) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, ocr_slots), daemon=True,
                                   name=f"mmrag-parse-{serial}")
        self.process.start()
        child.close()
        self.serial = serial
        self.task: Task | None = None
        self.retire = ""  # why it leaves after its task (set by its last message)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        self.conn.close()


def _exit_reason(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"parser process crashed ({name})" + (" — probably out of memory" if name == "SIGKILL" else "")
    return f"parser process exited unexpectedly (exit code {code})"


class WorkerPool:
    """Worker processes (forkserver where available, else spawn) that outlive one `run` call."""

    def __init__(self, workers: int) -> None:
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self.ctx = mp.get_context(method)
        if method == "forkserver":
            # imported once in the forkserver, shared by every worker it forks
            self.ctx.set_forkserver_preload(["mmrag.pipelines.workers", "mmrag.ingest.parse"])
        self.size = max(1, workers)
        self.idle: list[_Worker] = []
        self.busy: dict[_Worker, Task] = {}
        self.started = 0  # worker processes started so far
        self.profile: dict[str, WorkerProfile] = {}  # by worker, for the last `run`
        self.ocr_slots: ReadSlots | None = None  # what the workers take turns at OCR with (made with the first)
        self._slots_dir = ""

    def _start(self, settings: IngestSettings) -> _Worker:
        if self.ocr_slots is None and os.name == "posix":  # flock; elsewhere reads never wait
            # ingest.ocr_concurrency of the first task; 0: one per two workers
            n = settings.ocr_concurrency or max(1, (self.size + 1) // 2)
            self._slots_dir = tempfile.mkdtemp(prefix="mmrag-ocr-slots-")
            self.ocr_slots = ReadSlots([os.path.join(self._slots_dir, str(i)) for i in range(n)])
        self.started += 1
        with mmap_threshold_env(settings.heap_mmap_kb):  # the forkserver (started with the first worker) too
            return _Worker(self.ctx, self.started, self.ocr_slots)

    def _take(self, settings: IngestSettings) -> _Worker:
        while self.idle:
            worker = self.idle.pop()
            if worker.process.is_alive():
                return worker
            worker.kill()  # died while idle (killed by the system): replace it
        return self._start(settings)

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[Task, str, Any]]:
        """(task, kind, payload) events, task by task in the given order, while later tasks parse ahead.

        The first tasks go to the workers now, before the first event is asked for (the caller can load its
        models meanwhile). Per task: PART events, then DONE, FAILED or TIMEOUT. A task waiting for its turn
        holds at most settings.queue_batches fragments; past that its worker is left blocked on its pipe.
        Closing the iterator early, or `abort()`, kills the workers still parsing.
        """
        pending = deque(tasks)
        self.busy = {}
        self.profile = {}
        self._dispatch(pending)
        return self._events(tasks, pending)

    def _dispatch(self, pending: deque[Task]) -> None:
        while pending and len(self.busy) < self.size:
            task = pending.popleft()
            worker = self._take(task.settings)
            worker.task = task
            worker.conn.send((task.path, task.doc, task.settings, task.cache_db))
            self.busy[worker] = task

    def _events(self, tasks: Sequence[Task], pending: deque[Task]) -> Iterator[tuple[Task, str, Any]]:
        busy = self.busy
        try:
            for head in tasks:
                while True:
                    self._dispatch(pending)
                    while head.events:
                        kind, payload = head.events.popleft()
                        yield head, kind, payload
                    if head.finished:
                        break
                    self._listen(busy, head)
        finally:
            self.abort()

    def abort(self) -> None:
        """Kill the workers still parsing (an abandoned run leaves none parsing on)."""
        for worker in list(self.busy):
            worker.kill()
        self.busy.clear()

    def _listen(self, busy: dict[_Worker, Task], head: Task) -> None:
        """Wait for messages (or deaths) from the busy workers and route them to their tasks."""
        listening = [w for w, t in busy.items() if t is head or len(t.events) < t.settings.queue_batches]
        timeouts = [busy[w].settings.max_seconds - busy[w].waited for w in listening]
        timeout = max(0.05, min([1.0, *timeouts]))
        handles: list[Any] = []
        for w in listening:
            handles += [w.conn, w.process.sentinel]
        t0 = time.monotonic()
        ready = set(wait(handles, timeout))
        dt = time.monotonic() - t0
        for worker in listening:
            task = busy[worker]
            task.waited += dt
            state = "open"
            if worker.conn in ready or worker.process.sentinel in ready:
                state = self._receive(worker, task)  # a message may have come just before the end
            if state == "over":
                del busy[worker]
                worker.task = None
                if worker.retire:
                    log.debug("parse worker %d retires: %s", worker.serial, worker.retire)
                    worker.stop()  # it exits by itself; a fresh process takes its place on the next task
                else:
                    self.idle.append(worker)
            elif state == "dead" or not worker.process.is_alive() and not worker.conn.poll():
                worker.process.join(1)
                task.events.append((FAILED, _exit_reason(worker.process)))
                task.finished = True
                del busy[worker]
                worker.kill()
            elif task.waited >= task.settings.max_seconds:
                task.events.append((TIMEOUT, f"over max_seconds={task.settings.max_seconds:g}"))
                task.finished = True
                del busy[worker]
                worker.kill()

    def _receive(self, worker: _Worker, task: Task) -> str:
        """Drain the worker's pipe into the task's events: "over" once the task is, "dead" at end of pipe."""
        while worker.conn.poll():
            try:
                kind, payload, stats = worker.conn.recv()
            except (EOFError, OSError):
                return "dead"
            self._account(worker, kind, stats)
            task.events.append((kind, payload))
            if kind != PART:
                task.finished = True
                return "over"
            task.sent_parts += 1
            if len(task.events) >= task.settings.queue_batches:
                break
        return "open"

    def _account(self, worker: _Worker, kind: str, stats: dict[str, Any]) -> None:
        """Add a message's stats to its worker's profile; remember whether the worker retires after it."""
        prof = self.profile.setdefault(f"worker {worker.serial}", WorkerProfile())
        add_seconds(prof.stages, stats.get("stages", {}))
        prof.pages += stats.get("pages", 0)
        prof.cpu_s += stats.get("cpu_s", 0.0)
        first = stats.get("first_page_at", 0.0)
        if first and (not prof.first_page_at or first < prof.first_page_at):
            prof.first_page_at = first
        if kind != PART:
            prof.peak_rss_mb = max(prof.peak_rss_mb, stats.get("peak_rss_mb", 0.0))
            prof.documents += 1
            prof.rss_mb = max(prof.rss_mb, stats.get("rss_mb", 0.0))
            prof.frozen_objects = max(prof.frozen_objects, stats.get("frozen_objects", 0))
            worker.retire = stats.get("retire", "")
            prof.retired = bool(worker.retire)

    def close(self) -> None:
        for worker in self.idle:
            worker.stop()
        self.idle.clear()
        if self._slots_dir:
            shutil.rmtree(self._slots_dir, ignore_errors=True)
            self._slots_dir, self.ocr_slots = "", None


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def shared_pool(workers: int) -> WorkerPool:
    """One pool per process, resized on demand: tests and API calls that index repeatedly reuse warm workers."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = WorkerPool(workers)
            import atexit

            atexit.register(_close_pool)
        _POOL.size = max(1, workers)
        return _POOL


def _close_pool() -> None:
    if _POOL is not None:
        _POOL.close()
