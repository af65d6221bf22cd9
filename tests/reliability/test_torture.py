"""Bad files: each is one line naming the file and the reason, the run goes on, the summary counts it, the exit
code says so, and nothing already indexed changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rel_helpers import mmrag, tiny_settings, write_pdf
from torture import TORTURE, build_torture_corpus

from mmrag.pipelines.check import check_index
from mmrag.pipelines.index import open_index
from mmrag.store import sha256_file


@pytest.fixture(scope="module")
def torture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_torture_corpus(tmp_path_factory.mktemp("torture") / "bad")


def _docs(root: Path) -> dict[str, dict]:
    with open_index(root, read_only=True) as index:
        return {d["doc"]: {k: d[k] for k in ("sha256", "status", "pages", "elements")} for d in index.inspect()["docs"]}


def test_the_torture_corpus_through_mmrag_index(torture: Path, tmp_path: Path) -> None:
    good = write_pdf(tmp_path / "good.pdf", [["The heliotrope valve opens at 88 kPa."]])
    root = tmp_path / "idx"
    with open_index(root, tiny_settings().updated({"ingest.max_pages": 500})) as index:
        assert index.add([good]).ok
        updated = index.store.document("good.pdf")["updated"]
    before = _docs(root)

    run = mmrag("index", str(torture), str(good), "--index", str(root), "--json")
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    expected_failed = {name: frag for name, (_, (outcome, frag)) in TORTURE.items() if outcome == "failed"}
    expected_added = {name for name, (_, (outcome, _)) in TORTURE.items() if outcome == "added"}
    failed = {f["doc"]: f["reason"] for f in report["failed"]}
    assert set(failed) == set(expected_failed), failed
    for name, fragment in expected_failed.items():
        assert fragment in failed[name], (name, failed[name])
    assert set(report["added"]) == expected_added and report["unchanged"] == ["good.pdf"]
    for name, (_, (outcome, fragment)) in TORTURE.items():
        if outcome == "added" and fragment:
            assert any(w.startswith(f"{name}: ") and fragment in w for w in report["warnings"]), (name, fragment)
    skipped = [ln for ln in run.stderr.splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == len(expected_failed)
    for name, reason in failed.items():  # one line each, naming the file and the reason
        assert sum(1 for ln in skipped if ln == f"skipped {torture / name}: {reason}") == 1, (name, skipped)

    after = _docs(root)
    assert after["good.pdf"] == before["good.pdf"]
    assert set(after) == expected_added | {"good.pdf"} and all(d["status"] == "ready" for d in after.values())
    with open_index(root, read_only=True) as index:
        assert index.store.document("good.pdf")["updated"] == updated
        assert index.search("wombat tally rotated", k=1)[0].element.doc == "rotated.pdf"
        assert index.search("ocelot survey dens", k=1)[0].element.doc == "owner_only.pdf"
        assert index.search("heliotrope valve", k=1)[0].element.doc == "good.pdf"
        assert check_index(index).ok


def test_files_that_disappear_or_change_mid_run(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    a = write_pdf(folder / "a.pdf", [["Alpha: the heliotrope valve opens at 88 kPa."]])
    b = write_pdf(folder / "b.pdf", [["Beta: the quokka census counted 4,210 animals."]])
    c = write_pdf(folder / "c.pdf", [["Gamma: the first version of this file."]])
    root = tmp_path / "idx"

    def meddle(stage: str, done: int, total: int) -> None:
        if stage == "documents" and done == 1:  # a.pdf is indexed; b.pdf and c.pdf are still to come
            b.unlink()
            write_pdf(c, [["Gamma: the second version, written while the run was going."]])
            write_pdf(a, [["Alpha: rewritten after it was indexed."]])

    with open_index(root, tiny_settings()) as index:
        report = index.add([folder], progress=meddle)
        # Parser workers read ahead of the writer: b.pdf and c.pdf may have been read before the meddling.
        # Either way b.pdf is one line with the reason or fully indexed, never half.
        if report.failed:
            assert [f["doc"] for f in report.failed] == ["b.pdf"] and "No such file" in report.failed[0]["reason"]
            assert report.added == ["a.pdf", "c.pdf"]
        else:
            assert report.added == ["a.pdf", "b.pdf", "c.pdf"]
        # What is stored is one consistent version of each file: the one that was read.
        for doc in report.added:
            row = index.store.document(doc)
            assert {e.doc_sha256 for e in index.store.elements(doc=doc)} == {row["sha256"]}
        assert index.store.document("a.pdf")["sha256"] != sha256_file(a)
        c_was_read_late = index.store.document("c.pdf")["sha256"] == sha256_file(c)
        c_text = "second version written" if c_was_read_late else "first version of this file"
        assert index.search(c_text, k=1)[0].element.doc == "c.pdf"
        assert check_index(index).ok

        again = index.add([folder])  # the next run picks up the change to a.pdf
        assert again.ok and again.added == ["a.pdf"] + ([] if c_was_read_late else ["c.pdf"])
        assert again.unchanged == (["c.pdf"] if c_was_read_late else [])
        assert index.search("Alpha rewritten after it was indexed", k=1)[0].element.text.endswith(
            "rewritten after it was indexed.")


def test_prune_removes_documents_no_longer_given(tmp_path: Path) -> None:
    a = write_pdf(tmp_path / "a.pdf", [["Alpha: the heliotrope valve opens at 88 kPa."]])
    b = write_pdf(tmp_path / "b.pdf", [["Beta: the quokka census counted 4,210 animals."]])
    with open_index(tmp_path / "idx", tiny_settings()) as index:
        assert index.add([a, b]).added == ["a.pdf", "b.pdf"]
        report = index.add([a], prune=True)
        assert report.removed == ["b.pdf"] and report.unchanged == ["a.pdf"]
        assert index.store.document("b.pdf") is None
        assert all(h.element.doc == "a.pdf" for h in index.search("quokka census", k=5))
