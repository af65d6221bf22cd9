"""While it serves: documents another process finishes appear without a restart, and with uploads on, a PDF sent
over HTTP is checked, indexed in a background job (progress at /api/jobs/{id}) and then found."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest
from fastapi.testclient import TestClient

from mmrag.pipelines.index import open_index
from mmrag.serve.api import create_app
from mmrag.serve.service import IndexService, NotFound
from mmrag.serve.uploads import UploadJobs, safe_pdf_name

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"


def make_pdf(path: Path, text: str, password: str | None = None) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 100), text, fontsize=11)
    if password:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password)
    else:
        doc.save(path)
    return path


def wait_for(check, seconds: float = 60.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


@pytest.fixture()
def private_index(tmp_path: Path) -> Path:
    """Two sample documents, in an index of this test's own."""
    with open_index(tmp_path / "idx") as index:
        assert index.add([SAMPLE / "solar_outlook_2024.pdf", SAMPLE / "transit_ridership_2023.pdf"]).ok
    return tmp_path / "idx"


def test_documents_finished_by_a_writer_appear_without_a_restart(private_index: Path, tmp_path: Path) -> None:
    service = IndexService(private_index, refresh_seconds=0.1)
    service.warm()
    try:
        assert service.documents()["documents"] == 2
        pdf = make_pdf(tmp_path / "okapi.pdf", "The okapi census counted 317 okapis in the Ituri forest.")
        with open_index(private_index) as writer:  # the writer lock is free: the service only reads
            assert writer.add([pdf]).ok
        found = wait_for(lambda: [h for h in service.search("okapi census Ituri", k=3)["hits"]
                                  if h["doc"] == "okapi.pdf"])
        assert found[0]["page"] == 1
        assert service.documents()["documents"] == 3
        with open_index(private_index) as writer:
            assert writer.remove("okapi.pdf")
        wait_for(lambda: all(h["doc"] != "okapi.pdf" for h in service.search("okapi census Ituri", k=5)["hits"]))
    finally:
        service.close()


@pytest.fixture()
def uploading(private_index: Path) -> Iterator[tuple[TestClient, UploadJobs]]:
    service = IndexService(private_index, refresh_seconds=0.1)
    jobs = UploadJobs(service, max_bytes=200_000, lock_wait_seconds=30)
    from mmrag.serve.security import SecurityOptions

    app = create_app(service, mcp=False, uploads=jobs, security=SecurityOptions(max_upload_bytes=200_000))
    with TestClient(app) as c:
        yield c, jobs
    service.close()


def test_an_uploaded_pdf_is_indexed_and_found(uploading: tuple[TestClient, UploadJobs], tmp_path: Path) -> None:
    client, _ = uploading
    pdf = make_pdf(tmp_path / "x.pdf", "The narwhal tusk registry lists 88 tusks from Baffin Bay.")
    sent = client.post("/api/documents", files={"file": ("../../narwhal registry.pdf", pdf.read_bytes(),
                                                         "application/pdf")})
    assert sent.status_code == 202, sent.text
    job = sent.json()
    assert job["file"] == "narwhal registry.pdf" and job["status_url"] == f"/api/jobs/{job['id']}"
    done = wait_for(lambda: (j := client.get(job["status_url"]).json())["status"] in ("done", "failed") and j)
    assert done["status"] == "done", done
    assert done["report"]["added"] and done["progress"]
    hits = client.get("/api/search", params={"q": "narwhal tusk registry", "k": 3}).json()["hits"]
    assert hits[0]["doc"] == "narwhal registry.pdf"
    uploads = list((Path(client.app.state.service.root) / "uploads").iterdir())
    assert [p.name for p in uploads] == ["narwhal registry.pdf"]  # saved inside the index, nowhere else


def test_bad_uploads_are_refused_or_fail_their_job(uploading: tuple[TestClient, UploadJobs], tmp_path: Path) -> None:
    client, _ = uploading
    refused = client.post("/api/documents", files={"file": ("notes.pdf", b"just text, no header")})
    assert refused.status_code == 422 and "not a PDF" in refused.json()["error"]
    assert "notes.pdf" in refused.json()["error"]
    empty = client.post("/api/documents", files={"file": ("empty.pdf", b"")})
    assert empty.status_code == 422 and "empty" in empty.json()["error"]
    huge = client.post("/api/documents", files={"file": ("huge.pdf", b"%PDF-1.7\n" + b"0" * 300_000)})
    assert huge.status_code == 413 and "limit" in huge.json()["error"]
    locked = make_pdf(tmp_path / "locked.pdf", "secret", password="pw")
    job = client.post("/api/documents", files={"file": ("locked.pdf", locked.read_bytes())}).json()
    failed = wait_for(lambda: (j := client.get(f"/api/jobs/{job['id']}").json())["status"] in ("done", "failed") and j)
    assert failed["status"] == "failed" and "locked.pdf" in failed["error"]
    assert "encrypt" in failed["error"].lower() or "password" in failed["error"].lower()
    assert client.get("/api/documents").json()["documents"] == 2  # nothing already indexed was lost
    assert client.get("/api/jobs/nope").status_code == 404


def hold_writer_lock(root: Path) -> subprocess.Popen:
    """Another process holding the index's writer lock, as a running `mmrag index` does (jobs wait for it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from mmrag.pipelines.lock import WriterLock; "
         "WriterLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(60)", str(root)],
        stdout=subprocess.PIPE, text=True)
    if holder.stdout.readline().strip() != "locked":
        holder.kill()
        raise AssertionError("the writer lock was not taken")
    return holder


def test_an_upload_waits_for_a_running_writer(uploading: tuple[TestClient, UploadJobs], tmp_path: Path) -> None:
    client, _ = uploading
    holder = hold_writer_lock(client.app.state.service.root)
    try:
        pdf = make_pdf(tmp_path / "y.pdf", "The axolotl ledger records 12 axolotls.")
        job = client.post("/api/documents", files={"file": ("axolotl.pdf", pdf.read_bytes())}).json()
        wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["status"] == "waiting")
    finally:
        holder.kill()
        holder.wait()
    done = wait_for(lambda: (j := client.get(f"/api/jobs/{job['id']}").json())["status"] in ("done", "failed") and j)
    assert done["status"] == "done", done


def test_upload_jobs_outlive_a_restart_and_unfinished_ones_resume(private_index: Path) -> None:
    import json

    service = IndexService(private_index, refresh_seconds=0.1)
    try:
        # a server stopped while one job ran: its PDF is saved and its record still says "running"
        (private_index / "uploads").mkdir()
        make_pdf(private_index / "uploads" / "walrus.pdf", "The walrus haul-out count was 4,100 at Round Island.")
        records = private_index / "upload-jobs"
        records.mkdir()
        for record in ({"id": "3-1", "file": "old.pdf", "status": "done", "created": 1.0, "finished": 2.0},
                       {"id": "7-1", "file": "walrus.pdf", "status": "running", "created": 3.0,
                        "progress": {"parse": [0, 1]}},
                       {"id": "8-1", "file": "gone.pdf", "status": "queued", "created": 4.0}):
            (records / f"{record['id']}.json").write_text(json.dumps(record))
        (records / "9-1.json").write_text("{not json")  # a damaged record is skipped, not fatal

        jobs = UploadJobs(service, max_bytes=200_000, lock_wait_seconds=30)
        assert jobs.get("3-1").status == "done"
        gone = jobs.get("8-1")
        assert gone.status == "failed" and gone.error == "gone.pdf: the uploaded file is gone"
        resumed = wait_for(lambda: jobs.get("7-1").status in ("done", "failed") and jobs.get("7-1"))
        assert resumed.status == "done", resumed
        assert resumed.report["added"] and resumed.progress  # progress started over, not the stale record's
        assert all(done == total for done, total in resumed.progress.values()), resumed.progress
        assert service.search("walrus haul-out Round Island", k=3)["hits"][0]["doc"] == "walrus.pdf"

        again = UploadJobs(service, max_bytes=200_000, lock_wait_seconds=30)  # the next restart reads it back
        assert again.get("7-1").status == "done" and again.get("7-1").report["added"]
        assert again.get("8-1").status == "failed"
    finally:
        service.close()


def test_two_servers_of_one_index_never_run_the_same_job(private_index: Path, tmp_path: Path) -> None:
    """Each unfinished job is owned by one server (its lock); the other shows it from its record, and takes over
    only the jobs that a stopped server left."""
    import json

    service = IndexService(private_index, refresh_seconds=0.1)
    holder = hold_writer_lock(private_index)
    try:
        # a server stopped before its job ran: the record says queued, the PDF is saved, no one holds its lock
        (private_index / "uploads").mkdir()
        make_pdf(private_index / "uploads" / "walrus.pdf", "The walrus haul-out count was 4,100 at Round Island.")
        (private_index / "upload-jobs").mkdir()
        (private_index / "upload-jobs" / "7-1.json").write_text(
            json.dumps({"id": "7-1", "file": "walrus.pdf", "status": "running", "created": 3.0}))
        first = UploadJobs(service, max_bytes=200_000, lock_wait_seconds=60, adopt_seconds=0.2)
        second = UploadJobs(service, max_bytes=200_000, lock_wait_seconds=60, adopt_seconds=0.2)
        assert "7-1" in first._claims and "7-1" not in second._claims  # the first to start took it over
        wait_for(lambda: first.get("7-1").status == "waiting")
        pdf = make_pdf(tmp_path / "y.pdf", "The axolotl ledger records 12 axolotls.")
        new = first.submit("axolotl.pdf", pdf.read_bytes())  # a job the second server has never seen
        time.sleep(1.0)  # several of the second server's looks for abandoned jobs
        assert "7-1" not in second._claims and new.id not in second._claims
        assert second._queue.empty()
        assert second.get(new.id).status == "queued"  # behind 7-1 in the first server's queue: read from its record
        assert second.get("7-1").status == "waiting"
        with pytest.raises(NotFound):
            second.get("../7-1")
    finally:
        holder.kill()
        holder.wait()
    try:
        for job_id in ("7-1", new.id):
            done = wait_for(lambda: (j := second.get(job_id)).status in ("done", "failed") and j)  # noqa: B023
            assert done.status == "done" and done.report["added"], done
        assert service.search("walrus haul-out Round Island", k=3)["hits"][0]["doc"] == "walrus.pdf"
        wait_for(lambda: not list((private_index / "upload-jobs").glob("*.lock")))  # finished jobs leave none

        # a third job whose server stopped while the second server was already running: it takes it over
        first.adopt_seconds = 3600.0  # the first server stops looking (after its current look)
        time.sleep(0.5)
        make_pdf(private_index / "uploads" / "narwhal.pdf", "The narwhal tusk grows to 3 metres.")
        (private_index / "upload-jobs" / "9-1.json").write_text(
            json.dumps({"id": "9-1", "file": "narwhal.pdf", "status": "queued", "created": 5.0}))
        adopted = wait_for(lambda: (j := second.get("9-1")).status in ("done", "failed") and j)
        assert adopted.status == "done" and adopted.report["added"], adopted
        assert "9-1" not in first.jobs  # run by the second server alone
    finally:
        service.close()


@pytest.mark.parametrize(("given", "saved"), [
    ("report.pdf", "report.pdf"), ("../../etc/passwd", "passwd.pdf"), ("C:\\evil\\x.PDF", "x.PDF"),
    (".hidden.pdf", "hidden.pdf"), ("a\x00b.pdf", "a_b.pdf"), ("", "upload.pdf"), (None, "upload.pdf"),
    ("<script>.pdf", "_script_.pdf"),
])
def test_upload_names_are_reduced_to_a_safe_base_name(given: str | None, saved: str) -> None:
    assert safe_pdf_name(given) == saved


def test_serve_creates_an_index_to_upload_into(tmp_path: Path) -> None:
    from mmrag.cli.commands_serve import ensure_index

    ensure_index(tmp_path / "new")
    service = IndexService(tmp_path / "new")
    try:
        assert service.documents()["documents"] == 0
        assert service.search("anything", k=3)["hits"] == []
    finally:
        service.close()
    shutil.rmtree(tmp_path / "new")


def test_requests_during_reopens_never_meet_a_closed_index(private_index: Path, tmp_path: Path) -> None:
    """Many threads search while a writer finishes documents and the service swaps in fresh views."""
    import threading

    service = IndexService(private_index, refresh_seconds=0.0)
    service.warm()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                service.search("solar capacity", k=3)
                service.documents()
            except BaseException as exc:  # noqa: BLE001 - every failure counts
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        for n in range(3):
            pdf = make_pdf(tmp_path / f"gecko{n}.pdf", f"The gecko survey number {n} counted {n + 5} geckos.")
            with open_index(private_index) as writer:
                assert writer.add([pdf]).ok
            wait_for(lambda n=n: service.documents()["documents"] == 3 + n)
    finally:
        stop.set()
        for t in threads:
            t.join()
        service.close()
    assert not errors, repr(errors[:3])
