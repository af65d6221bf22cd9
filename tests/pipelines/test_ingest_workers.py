"""Worker processes: documents come back in order; a crash or a hang fails (or cuts) one document, not the run."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from renders import render_difference

from mmrag.pipelines.index import MMIndex
from mmrag.pipelines.workers import DONE, FAILED, PART, TIMEOUT, Task, WorkerPool, parse_document
from mmrag.settings import IngestSettings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
FAST = IngestSettings(ocr="none")


def _stuck_pdf(tmp_path: Path) -> Path:
    """A named pipe with no writer: opening it blocks inside the C library, like a parser that hangs."""
    path = tmp_path / "stuck.pdf"
    os.mkfifo(path)
    return path


def _run(pool: WorkerPool, tasks: list[Task], on_first_part=None) -> tuple[list[str], dict[str, tuple[str, object]]]:
    order: list[str] = []
    outcome: dict[str, tuple[str, object]] = {}
    for task, kind, payload in pool.run(tasks):
        if task.doc not in order:
            order.append(task.doc)
        if kind == PART and on_first_part is not None:
            on_first_part(pool)
            on_first_part = None
        if kind != PART:
            outcome[task.doc] = (kind, payload)
    return order, outcome


def test_a_crashed_worker_fails_its_document_and_the_run_goes_on(tmp_path: Path) -> None:
    tasks = [Task(str(SAMPLE / "finfet_yield_paper.pdf"), "a.pdf", FAST),
             Task(str(_stuck_pdf(tmp_path)), "stuck.pdf", FAST),
             Task(str(SAMPLE / "solar_outlook_2024.pdf"), "c.pdf", FAST)]

    def crash(pool: WorkerPool) -> None:
        victim = next(w for w, t in pool.busy.items() if t.doc == "stuck.pdf")
        os.kill(victim.process.pid, signal.SIGSEGV)

    pool = WorkerPool(2)
    try:
        order, outcome = _run(pool, tasks, crash)
    finally:
        pool.close()
    assert order == ["a.pdf", "stuck.pdf", "c.pdf"]
    assert outcome["stuck.pdf"][0] == FAILED and "SIGSEGV" in str(outcome["stuck.pdf"][1])
    assert outcome["a.pdf"] == (DONE, None) and outcome["c.pdf"] == (DONE, None)


def test_a_document_over_max_seconds_is_cut_off_even_inside_c_code(tmp_path: Path) -> None:
    hang = IngestSettings(ocr="none", max_seconds=1.0)
    # the next document has no time limit: on a loaded machine its own parse may well take over a second
    tasks = [Task(str(_stuck_pdf(tmp_path)), "stuck.pdf", hang),
             Task(str(SAMPLE / "finfet_yield_paper.pdf"), "b.pdf", IngestSettings(ocr="none"))]
    pool = WorkerPool(1)  # one worker: the next document needs the hung worker replaced
    try:
        order, outcome = _run(pool, tasks)
    finally:
        pool.close()
    assert order == ["stuck.pdf", "b.pdf"]
    assert outcome["stuck.pdf"] == (TIMEOUT, "over max_seconds=1")
    assert outcome["b.pdf"] == (DONE, None)


def test_fragments_are_bounded_by_batch_pages() -> None:
    settings = IngestSettings(ocr="none", batch_pages=2, queue_batches=1)
    pool = WorkerPool(1)
    try:
        parts = [p for t, kind, p in pool.run([Task(str(SAMPLE / "solar_outlook_2024.pdf"), "s.pdf", settings)])
                 if kind == PART]
    finally:
        pool.close()
    header, fragments = parts[0][0], [p for p, _ in parts[1:]]
    assert header.pages == 6 and not header.elements
    assert [sorted({e.page for e in f.elements}) for f in fragments] == [[1, 2], [3, 4], [5, 6]]
    for f in fragments:  # each fragment carries the pixels of its own pages, no more
        assert {e.image for e in f.elements if e.image} == set(f.pixels)


def test_the_index_holds_what_parse_document_gives_in_document_order(sample_index: MMIndex) -> None:
    docs = sample_index.store.documents()
    assert len(docs) == 5
    for d in docs:
        parsed = parse_document(d["path"], sample_index.settings.ingest, doc=d["doc"])
        stored = list(sample_index.store.elements(doc=d["doc"]))
        assert [e.id for e in stored] == [e.id for e in parsed.elements]
        assert [e.text for e in stored] == [e.text for e in parsed.elements]
        differing, excused = [], set()  # excused: parse_document's keys whose render differs only in its bytes
        for e, p in zip(stored, parsed.elements):
            if e.image == p.image:
                continue
            if e.image and p.image and render_difference(sample_index.store.read_pixels(e.image), parsed.pixels[
                    p.image], f"workers, this process: {e.doc} p.{e.page} {e.kind} {e.id}") is None:
                excused.add(p.image)
            else:
                differing.append((e.page, e.kind, e.id, e.image, p.image))
        assert not differing, differing  # (page, kind, id, stored pixels, parse_document's)
        assert all(sample_index.store.pixel_path(k).read_bytes() == v for k, v in parsed.pixels.items()
                   if k not in excused)


def test_a_document_over_max_elements_is_truncated_with_a_warning(tmp_path: Path) -> None:
    from mmrag.pipelines.index import open_index
    from mmrag.settings import Settings

    settings = Settings().updated({"image.enabled": False, "ingest.ocr": "none", "ingest.max_elements": 3,
                                   "ingest.batch_pages": 2, "ingest.workers": 1})
    index = open_index(tmp_path / "idx", settings)
    report = index.add([SAMPLE / "solar_outlook_2024.pdf"])
    pages = {e.page for e in index.store.elements(doc="solar_outlook_2024.pdf")}
    index.close()
    assert report.added == ["solar_outlook_2024.pdf"]
    assert pages == {1, 2}
    assert report.warnings == ["solar_outlook_2024.pdf: truncated after page 2: over max_elements=3"]


@pytest.mark.parametrize("workers", [0, 1])
def test_workers_setting_resolves_to_processes(workers: int) -> None:
    from mmrag.settings import usable_cores

    n = workers or usable_cores()
    assert n >= 1
