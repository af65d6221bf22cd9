"""Worker memory bounded by settings (a worker retires after N pages or past an RSS limit, and the documents still
come out whole) and the per-stage profile that workers and the main process keep of a run."""

from __future__ import annotations

import time
from pathlib import Path

from mmrag.ingest.clock import StageClock
from mmrag.pipelines.ingest import profile_table
from mmrag.pipelines.workers import DONE, PART, Task, WorkerPool, parse_document
from mmrag.settings import IngestSettings, Settings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
DOCS = ["finfet_yield_paper.pdf", "solar_outlook_2024.pdf", "arabica_market_note_q3_2024.pdf"]


def _run(pool: WorkerPool, settings: IngestSettings) -> tuple[dict[str, list], dict[str, str]]:
    elements: dict[str, list] = {}
    outcome: dict[str, str] = {}
    for task, kind, payload in pool.run([Task(str(SAMPLE / d), d, settings) for d in DOCS]):
        if kind == PART:
            elements.setdefault(task.doc, []).extend(payload[0].elements)
        else:
            outcome[task.doc] = kind
    return elements, outcome


def test_a_worker_retires_after_max_pages_and_every_document_comes_out_whole() -> None:
    settings = IngestSettings(ocr="none", worker_max_pages=5, worker_max_rss_mb=0, batch_pages=2)
    pool = WorkerPool(1)
    try:
        elements, outcome = _run(pool, settings)
        started = pool.started
        profile = pool.profile
    finally:
        pool.close()
    assert outcome == dict.fromkeys(DOCS, DONE)
    assert started == 3  # every document is at least 5 pages: each worker parsed one, then a fresh one came
    assert [p.retired for p in profile.values()] == [True, True, True]
    for doc in DOCS:  # the same elements, in the same order, as one process parsing the file on its own
        whole = parse_document(SAMPLE / doc, settings, doc=doc)
        assert [e.id for e in elements[doc]] == [e.id for e in whole.elements]
        assert sorted(e.page for e in elements[doc] if e.kind == "page") == list(range(1, whole.pages + 1))


def test_a_worker_past_its_rss_limit_retires_and_one_under_it_stays() -> None:
    pool = WorkerPool(1)
    try:
        _, outcome = _run(pool, IngestSettings(ocr="none", worker_max_pages=0, worker_max_rss_mb=1))
        assert outcome == dict.fromkeys(DOCS, DONE) and pool.started == 3
        _, outcome = _run(pool, IngestSettings(ocr="none", worker_max_pages=0, worker_max_rss_mb=100_000))
        assert outcome == dict.fromkeys(DOCS, DONE) and pool.started == 4  # one fresh worker took all three
    finally:
        pool.close()


def test_workers_report_their_stages_pages_and_memory() -> None:
    pool = WorkerPool(2)
    try:
        t0 = time.time()
        _run(pool, IngestSettings(ocr="none"))
        profile = {k: v.to_dict() for k, v in pool.profile.items()}
    finally:
        pool.close()
    assert sum(w["pages"] for w in profile.values()) == 5 + 6 + 5
    assert sum(w["documents"] for w in profile.values()) == 3
    for w in profile.values():
        assert {"open", "text", "layout", "render", "release", "send"} <= set(w["stages"])
        assert all(s >= 0 for s in w["stages"].values())
        assert w["peak_rss_mb"] >= w["rss_mb"] > 10
        assert t0 < w["first_page_at"] < time.time()
        # what it inherited from the forkserver (PyMuPDF, numpy, mmrag's modules) is frozen, so the garbage
        # collector's visits never copy those pages into the worker
        assert w["frozen_objects"] > 10_000


def test_stage_clock_counts_each_second_once() -> None:
    clock = StageClock()
    with clock.stage("outer"):
        time.sleep(0.02)
        with clock.stage("inner"):
            time.sleep(0.05)
        time.sleep(0.02)
    seconds = clock.take()
    assert 0.05 <= seconds["inner"] < 0.2
    assert 0.04 <= seconds["outer"] < 0.09  # the inner stage's time is not counted twice
    assert clock.take() == {}


def test_index_report_profile_has_main_and_worker_stages(tmp_path: Path) -> None:
    from mmrag.pipelines.index import open_index

    settings = Settings().updated({"image.enabled": False, "ingest.ocr": "none", "ingest.workers": 2})
    with open_index(tmp_path / "idx", settings) as index:
        report = index.add([SAMPLE / d for d in DOCS])
    assert report.ok
    profile = report.profile
    assert {"wait for parse", "store", "encode text", "write text"} <= set(profile["main"])
    workers = sorted((k for k in profile if k.startswith("worker ")), key=lambda k: int(k.split()[1]))
    assert workers and sum(profile[w]["pages"] for w in workers) == 16
    assert 0 < profile["first_page_s"] < profile["wall_s"]
    assert profile["main"]["release"] >= 0  # the indexing process hands its free heap back after each batch
    encoded = profile["encoded"]["text"]  # what the text encoder read for this run: every chunk and page, once
    assert 16 <= encoded["texts"] and encoded["texts"] < encoded["tokens"] <= encoded["padded"]
    header, rows = profile_table(profile)
    assert header == ["stage", "main", *workers]
    assert {"encode text", "render", "pages", "first page parsed (s)", "tokens encoded (text)",
            "tokens/s encoding (text)"} <= {r[0] for r in rows}
    assert all(len(r) == len(header) for r in rows)
    assert len({r[0] for r in rows}) == len(rows)  # one row per stage (release is a stage of both kinds)
    # every process spent CPU on the run: the main process encoding, each worker parsing, none more than the
    # wall time on all the cores
    cpu = [profile["main_cpu_s"], *(profile[w]["cpu_s"] for w in workers)]
    assert all(0 < c <= profile["wall_s"] * profile["cores"] for c in cpu), cpu
    used = next(r for r in rows if r[0].startswith("cores used"))
    assert used[0] == f"cores used (of {profile['cores']})" and float(used[1]) == round(sum(cpu) / profile["wall_s"], 2)


def test_without_release_memory_the_indexing_process_keeps_its_heap(tmp_path: Path) -> None:
    from mmrag.pipelines.index import open_index

    settings = Settings().updated({"image.enabled": False, "ingest.ocr": "none", "ingest.workers": 1,
                                   "ingest.release_memory": False})
    with open_index(tmp_path / "idx", settings) as index:
        report = index.add([SAMPLE / DOCS[0]])
    assert report.ok and "store" in report.profile["main"]
    assert "release" not in report.profile["main"]
    assert all("release" not in w["stages"] for k, w in report.profile.items() if k.startswith("worker "))


def test_busy_share_leaves_out_the_stages_that_wait() -> None:
    """A worker waiting for a full pipe or for its turn at OCR is not busy: the profile's bound must show it."""
    worker = {"pages": 4, "documents": 1, "peak_rss_mb": 300.0, "rss_mb": 200.0, "retired": False}
    profile = {"wall_s": 10.0, "main": {"encode text": 8.0, "wait for parse": 2.0},
               "worker 1": {**worker, "stages": {"tables": 3.0, "ocr": 1.0, "ocr wait": 4.0, "send": 2.0}}}
    _, rows = profile_table(profile)
    busy = next(r for r in rows if r[0].startswith("busy"))
    assert busy == ["busy (of 10.0 s)", "80%", "40%"]
    assert not any(r[0].startswith(("CPU", "cores")) for r in rows)  # a profile from before CPU was counted
    profile.update({"main_cpu_s": 12.0, "cores": 2})
    profile["worker 1"]["cpu_s"] = 4.5
    _, rows = profile_table(profile)
    assert rows[-2:] == [["CPU s (all threads)", "12.0", "4.5"], ["cores used (of 2)", "1.65", ""]]
    assert [r[0] for r in rows][:6] == ["wait for parse", "encode text", "tables", "ocr", "ocr wait", "send"]
    assert not any(r[0].startswith("tokens") for r in rows)  # a profile without encoder counts
    profile["encoded"] = {"text": {"texts": 10, "tokens": 2000, "padded": 2030}}
    _, rows = profile_table(profile)
    assert rows[6:8] == [["tokens encoded (text)", "2,000 (+1.5% padding)", ""],
                         ["tokens/s encoding (text)", "250", ""]]
