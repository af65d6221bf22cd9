"""PDF uploads over HTTP (`mmrag serve --allow-upload`): `POST /api/documents` takes one PDF, a background job
indexes it with the CLI's writer (same writer lock, same bad-file handling), `GET /api/jobs/{id}` shows progress.

An upload is saved as `<index>/uploads/<name>.pdf`, its name reduced to letters, digits, dot, dash, underscore
and space; the document is known by that name, so uploading a file of the same name again replaces it (as
`mmrag index` does with a changed file). Jobs run one at a time; a job that finds another writer (a running
`mmrag index`) waits for its lock.

Each job's record is kept as `<index>/upload-jobs/<id>.json`, written at every change of status, so
`GET /api/jobs/{id}` answers after a restart too, and on every server of the index. A server owns the jobs it
queues through an advisory lock, `<index>/upload-jobs/<id>.lock`, which the system drops when the server stops.
A job whose owner stopped before it finished (queued, waiting or running) is taken over by a server of the index:
at its start, or within `ADOPT_SECONDS` while it runs. Indexing resumes from what the index already holds. Two
servers of one index never run the same job.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import queue
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, UploadFile
from fastapi.responses import JSONResponse

from mmrag.errors import IndexLocked, MMRagError
from mmrag.params import BadParameter
from mmrag.serve.service import IndexService, NotFound
from mmrag.store import atomic_write_bytes

log = logging.getLogger(__name__)

UPLOAD_FOLDER = "uploads"
JOBS_FOLDER = "upload-jobs"
UNFINISHED = ("queued", "waiting", "running")
PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # readers accept a header within the first 1 KiB
LOCK_WAIT_SECONDS = 600.0
ADOPT_SECONDS = 30.0  # how often an idle server looks for jobs that a stopped server left unfinished
_JOB_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass
class Job:
    """One upload's indexing: queued, waiting (for the writer lock), running, done or failed."""

    id: str
    file: str
    status: str = "queued"
    progress: dict[str, list[int]] = field(default_factory=dict)  # stage -> [done, total]
    report: dict[str, Any] | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class UploadJobs:
    """The upload queue of one served index; `max_bytes` is the largest PDF taken."""

    def __init__(
        self, service: IndexService, max_bytes: int, lock_wait_seconds: float = LOCK_WAIT_SECONDS,
        adopt_seconds: float = ADOPT_SECONDS,
    ) -> None:
        self.service = service
        self.root = service.root
        self.max_bytes = max_bytes
        self.lock_wait_seconds = lock_wait_seconds
        self.adopt_seconds = adopt_seconds
        self.jobs: dict[str, Job] = {}
        self._claims: dict[str, int] = {}  # job id -> the descriptor holding its lock (jobs this server owns)
        self._claims_lock = threading.Lock()
        self._queue: queue.Queue[tuple[Job, Path]] = queue.Queue()
        self._ids = itertools.count(1)
        self._resume()
        self._worker = threading.Thread(target=self._run, daemon=True, name="mmrag-uploads")
        self._worker.start()

    @property
    def folder(self) -> Path:
        return self.root / JOBS_FOLDER

    def _resume(self) -> None:
        """Load the saved job records, then take over those that no running server owns (`_adopt`)."""
        for job in self._records():
            self.jobs[job.id] = job
        self._adopt()

    def _records(self) -> list[Job]:
        """Every readable job record on disk, oldest first, but those known to have finished (they stay so)."""
        records = []
        for path in self.folder.glob("*.json") if self.folder.is_dir() else ():
            known = self.jobs.get(path.stem)
            if known is not None and known.status not in UNFINISHED:
                continue
            job = self._read(path)
            if job is not None:
                records.append(job)
        return sorted(records, key=lambda j: j.created if isinstance(j.created, (int, float)) else 0.0)

    def _read(self, path: Path) -> Job | None:
        try:
            return Job.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            log.warning("%s: unreadable upload job record skipped (%s)", path, exc)
            return None

    def _adopt(self) -> int:
        """Queue again, oldest first, the unfinished jobs that no running server owns (their server stopped);
        returns how many. A job is taken only under its lock, and only if its record, read again under the lock,
        is still unfinished: a job another server finished or owns is left alone."""
        taken = 0
        for job in self._records():
            if job.status not in UNFINISHED or job.id in self._claims or not _JOB_ID.match(job.id):
                continue
            if not self._claim(job.id):
                continue  # another server owns it
            current = self._read(self.folder / f"{job.id}.json")
            if current is None or current.status not in UNFINISHED:
                self._release(job.id)
                if current is not None:
                    self.jobs[current.id] = current
                continue
            self.jobs[current.id] = current
            pdf = self.root / UPLOAD_FOLDER / safe_pdf_name(current.file)  # a record is data: no path leaves uploads/
            if not pdf.is_file():
                self._finish(current, "failed", f"{current.file}: the uploaded file is gone")
                continue
            current.progress = {}
            self._set(current, "queued")
            self._queue.put((current, pdf))
            taken += 1
        return taken

    def _claim(self, job_id: str) -> bool:
        """Take the job's lock without waiting; False when another server (or another `UploadJobs`) holds it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / f"{job_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # like the records, the lock is a convenience of several servers
            log.warning("upload job %s: its lock could not be taken (%s)", job_id, exc)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        with self._claims_lock:
            self._claims[job_id] = fd
        return True

    def _release(self, job_id: str) -> None:
        with self._claims_lock:
            fd = self._claims.pop(job_id, None)
        if fd is None:
            return
        # the lock file goes first: a server that opened it meanwhile gets the lock, reads the record (final by
        # now) and leaves the job alone
        (self.folder / f"{job_id}.lock").unlink(missing_ok=True)
        os.close(fd)

    def _save(self, job: Job) -> None:
        try:
            atomic_write_bytes(self.root / JOBS_FOLDER / f"{job.id}.json", json.dumps(job.to_dict()).encode())
        except OSError as exc:  # the record is a convenience: the job itself goes on
            log.warning("upload job %s: its record could not be saved (%s)", job.id, exc)

    def _set(self, job: Job, status: str) -> None:
        job.status = status
        self._save(job)

    def submit(self, filename: str | None, data: bytes) -> Job:
        """Check and save an uploaded PDF, and queue its indexing; BadParameter names what is wrong with it."""
        name = safe_pdf_name(filename)
        if len(data) > self.max_bytes:
            raise BadParameter(f"{name}: {len(data)} bytes; the upload limit is {self.max_bytes} bytes")
        if not data:
            raise BadParameter(f"{name}: the file is empty")
        if PDF_MAGIC not in data[:MAGIC_WINDOW]:
            raise BadParameter(f"{name}: not a PDF (no %PDF- header in its first {MAGIC_WINDOW} bytes)")
        path = self.root / UPLOAD_FOLDER / name
        atomic_write_bytes(path, data)
        job = Job(id=f"{next(self._ids)}-{time.time_ns()}", file=name)
        self._claim(job.id)  # a new id: no one else holds it
        self.jobs[job.id] = job
        self._save(job)
        self._queue.put((job, path))
        return job

    def get(self, job_id: str) -> Job:
        """A job by id: this server's own as it runs; another server's (or a finished one's) from its record."""
        job = self.jobs.get(job_id)
        if (job is None or (job.status in UNFINISHED and job_id not in self._claims)) and _JOB_ID.match(job_id):
            fresh = self._read(self.folder / f"{job_id}.json")
            if fresh is not None and job_id not in self._claims:
                self.jobs[job_id] = job = fresh
        if job is None:
            raise NotFound(f"job {job_id!r}: no such upload job")
        return job

    def _run(self) -> None:
        while True:
            try:
                job, path = self._queue.get(timeout=self.adopt_seconds)
            except queue.Empty:
                try:
                    self._adopt()
                except Exception:  # a look at the records never takes the worker down
                    log.exception("upload jobs: looking for unfinished jobs failed")
                continue
            try:
                self._index(job, path)
            except Exception as exc:  # a job never takes the worker (or the server) down
                log.exception("upload job %s failed", job.id)
                self._finish(job, "failed", f"{type(exc).__name__}: {exc}".splitlines()[0])

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        """End a job: its record is saved before a poller can see the final status (set last)."""
        record = replace(job, status=status, error=error, finished=time.time())
        self._save(record)
        job.error, job.finished = record.error, record.finished
        job.status = status
        self._release(job.id)  # after the final record: a server that takes the lock next reads it

    def _index(self, job: Job, path: Path) -> None:
        from mmrag.pipelines.index import open_index

        def progress(stage: str, done: int, total: int) -> None:
            job.progress[stage] = [done, total]

        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            try:
                with open_index(self.root, create=False) as index:
                    self._set(job, "running")
                    report = index.add([path], progress=progress)
                break
            except IndexLocked as exc:
                if time.monotonic() > deadline:
                    raise MMRagError(f"{job.file}: the index stayed locked by another writer ({exc})") from None
                if job.status != "waiting":
                    self._set(job, "waiting")
                time.sleep(1.0)
        job.report = report.to_dict()
        self.service.refresh(wait=True)  # the document is searchable once the job says done
        if report.failed:
            self._finish(job, "failed", "; ".join(f"{f['path']}: {f['reason']}" for f in report.failed))
        else:
            self._finish(job, "done")


def safe_pdf_name(filename: str | None) -> str:
    """The upload's file name reduced to a safe base name ending in .pdf (no folder, no dot files)."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = _UNSAFE.sub("_", base).strip(" .")[:120]
    if not base.lower().endswith(".pdf"):
        base = (base or "upload") + ".pdf"
    return base


def upload_routes(app: FastAPI, jobs: UploadJobs) -> None:
    @app.post("/api/documents", tags=["index"], status_code=202)
    async def upload(file: UploadFile = File(..., description="One PDF.")) -> JSONResponse:
        """Upload a PDF to index (only with `mmrag serve --allow-upload`); returns the job to poll."""
        data = await file.read(jobs.max_bytes + 1)
        job = jobs.submit(file.filename, data)
        return JSONResponse({**job.to_dict(), "status_url": f"/api/jobs/{job.id}"}, status_code=202)

    @app.get("/api/jobs/{job_id}", tags=["index"])
    def job_status(job_id: str) -> dict[str, Any]:
        """An upload job: status (queued, waiting, running, done, failed), progress by stage, the index report."""
        return jobs.get(job_id).to_dict()

    @app.get("/api/jobs", tags=["index"])
    def job_list() -> dict[str, Any]:
        return {"jobs": [j.to_dict() for j in jobs.jobs.values()]}
