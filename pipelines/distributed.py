"""Ingestion spread over a Ray cluster: parse, OCR, render and text-encode each PDF as a Ray task.

The driver (the machine running `mmrag index --ray ADDRESS`) keeps what must have one writer: the element store
(SQLite), the channels' writes (a Qdrant server/cluster by URL, or the local Edge shard and FAISS files) and the
manifest. Each task reads its PDF, writes the crops and page renders straight into the index's `pixels/` folder
(content-addressed files written by rename, so tasks never clash) and sends back the elements and their text
points (dense vector + BM25 terms); the driver stores them in the same order of steps as a local run, so a killed
run resumes the same way. The index folder (hence `pixels/`) and the PDFs must be on a filesystem every node
mounts at the same path; every node needs mmrag installed (the same version, with the `ray` extra).

Left on the driver: the image and pages channels' encoding (they read the crops and page renders back from
`pixels/`; one GPU on the driver serves both) and, when a captioner is configured, figure descriptions (they
change the text, so the text is then encoded on the driver as well).
"""

from __future__ import annotations

import logging
import socket
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.errors import BadPDF, MMRagError
from mmrag.indexes.qdrant_store import TextPoint
from mmrag.settings import IngestSettings, TextChannelSettings
from mmrag.store import atomic_write_bytes

if TYPE_CHECKING:
    from mmrag.pipelines.ingest import IndexReport, Progress
    from mmrag.pipelines.parts import IndexParts

log = logging.getLogger(__name__)

# Tasks in flight per CPU of the cluster: enough to keep every core busy, few enough that results waiting on
# the driver stay bounded.
IN_FLIGHT_PER_CPU = 2


def connect(address: str) -> dict[str, float]:
    """Join the Ray cluster at `address` ("auto": the one this machine belongs to; "local": start one here).

    Returns the cluster's resources. An already initialised Ray (a notebook, a test) is used as it is.
    """
    try:
        import ray
    except ImportError:
        raise MMRagError("--ray needs Ray: pip install 'mmrag[ray]' (on the driver and every node)") from None
    if not ray.is_initialized():
        _probe(address)
        try:
            if address == "local":
                ray.init(include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise MMRagError(
                f"no Ray cluster at {address!r} ({exc}); start one with `ray start --head` (then --ray auto), "
                "pass its address (ray://HEAD:10001), or --ray local for a single machine"
            ) from None
    return dict(ray.cluster_resources())


def _probe(address: str) -> None:
    """Fail in seconds on an address nothing listens at (Ray itself keeps retrying for minutes)."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise MMRagError(f"--ray {address!r}: use auto, local, HOST:PORT (the GCS, 6379) or ray://HOST:10001")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise MMRagError(
            f"no Ray cluster at {address!r} ({exc.strerror or exc}); start one with `ray start --head`, "
            "or use --ray local on a single machine"
        ) from None


def parse_and_embed(
    path: str, doc: str, ingest: IngestSettings, text: TextChannelSettings | None, pixels_dir: str
) -> dict[str, Any]:
    """One document, as a Ray task runs it: parse (OCR included), write its pixels, embed its text.

    text: the text channel's settings, or None to leave encoding to the driver. Returns {"parsed": ParsedDocument
    without pixels, "points": list[TextPoint] | None} or {"failed": reason}; never raises for a bad PDF.
    """
    from mmrag.pipelines.workers import parse_document

    try:
        parsed = parse_document(path, ingest, doc)
    except BadPDF as exc:
        return {"failed": exc.reason}
    except Exception as exc:  # a parser bug on one file must not take the run down
        log.exception("failed on %s", path)
        return {"failed": f"unexpected error: {exc!r}"}
    for key, data in parsed.pixels.items():
        # The store's layout (ElementStore.pixel_path): pixels/<first two characters of the key>/<key>.
        target = Path(pixels_dir) / key[:2] / key
        if not target.exists():
            atomic_write_bytes(target, data)
    parsed.pixels = {}
    points = _embed(parsed.elements, text) if text is not None else None
    return {"parsed": parsed, "points": points}


_ENCODERS: dict[tuple[str, str], Any] = {}  # one model per Ray worker process, reused across its tasks


def _embed(elements: Sequence[Any], settings: TextChannelSettings) -> list[TextPoint]:
    import qdrant_edge as qe

    from mmrag.indexes.qdrant_text import embed_points
    from mmrag.models.text_encoder import load_text_encoder

    key = (settings.model, settings.device)
    if key not in _ENCODERS:
        _ENCODERS[key] = load_text_encoder(settings.model, device=settings.device, batch_size=settings.batch_size)
    bm25 = qe.Bm25() if settings.lexical else None
    batches = embed_points(elements, _ENCODERS[key], bm25, settings.batch_size, settings.page_tokens,
                           settings.chunk_header, settings.element_tokens)
    return [p for batch in batches for p in batch]


def index_documents_on_ray(
    parts: IndexParts, files: Sequence[tuple[Path, str]], address: str, progress: Progress | None = None,
    prune: bool = False,
) -> IndexReport:
    """`index_documents` with the parsing and text encoding done by Ray tasks; the driver (holding the writer
    lock) writes."""
    import ray

    from mmrag.pipelines.ingest import IndexReport, changed_documents
    from mmrag.pipelines.purge import prune_missing, recover_interrupted

    resources = connect(address)
    report = IndexReport()
    report.resumed.extend(recover_interrupted(parts))
    store = parts.store
    todo = changed_documents(store, files, report)

    channels = parts.channels.open() if todo else {}
    text_channel = channels.get("text")
    # Text encoding moves to the tasks unless a captioner rewrites figure text on the driver first.
    remote_text = text_channel is not None and not parts.settings.captioner.model
    text_settings = parts.settings.text if remote_text else None
    task = ray.remote(num_cpus=1, max_retries=1)(parse_and_embed)
    pixels_dir = str(store.pixels_dir.resolve())
    window = max(1, int(resources.get("CPU", 1)) * IN_FLIGHT_PER_CPU)
    pending: dict[Any, tuple[Path, str, str]] = {}
    queue = deque(todo)
    done = 0
    while queue or pending:
        while queue and len(pending) < window:
            path, doc, sha = queue.popleft()
            ref = task.remote(str(Path(path).resolve()), doc, parts.settings.ingest, text_settings, pixels_dir)
            pending[ref] = (path, doc, sha)
        ready, _ = ray.wait(list(pending), num_returns=1)
        path, doc, sha = pending.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except ray.exceptions.RayError as exc:  # the task's worker died (memory, segfault) even after a retry
            result = {"failed": f"Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"}
        if "failed" in result:
            report.failed.append({"path": str(path), "doc": doc, "reason": result["failed"]})
            log.warning("skipped %s: %s", path, result["failed"])
        else:
            _write_document(parts, channels, path, doc, sha, result, remote_text)
            report.added.append(doc)
            report.warnings.extend(f"{doc}: {w}" for w in result["parsed"].warnings)
        done += 1
        if progress:
            progress("documents", done, len(todo))
    if prune:
        report.removed.extend(prune_missing(parts, files))
    return report


def _write_document(
    parts: IndexParts, channels: dict[str, Any], path: Path, doc: str, sha: str, result: dict[str, Any],
    remote_text: bool,
) -> None:
    """Store one parsed document and its vectors, in the order that lets a killed run resume."""
    from mmrag.pipelines.ingest import describe_figures

    store = parts.store
    parsed = result["parsed"]
    describe_figures(parts, parsed.elements)
    # `indexing` before any channel is touched: a kill from here on is purged and redone by the next run.
    store.begin_document(doc, str(path), sha, parsed.pages, parsed.elements)
    for channel in channels.values():
        channel.delete_docs([doc])
    for name, channel in channels.items():
        if name == "text" and remote_text:
            channel.add_points(result["points"])
        else:
            channel.add(parsed.elements, store.read_pixels)
        channel.flush()
    store.finish_document(doc, {"ocr_pages": parsed.ocr_pages, "warnings": parsed.warnings})
