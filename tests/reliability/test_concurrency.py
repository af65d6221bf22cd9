"""One writer at a time (CLI and Python API alike); readers work beside a writer and see the last committed state."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rel_helpers import TINY, tiny_settings, write_pdf
from typer.testing import CliRunner

from mmrag.cli.app import app
from mmrag.errors import IndexLocked
from mmrag.pipelines.index import open_index
from mmrag.pipelines.manifest import write_manifest

HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mmrag.pipelines.lock import WriterLock
    with WriterLock(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(120)
""")

# A writer that finished document A and is half way through document B (rows `indexing`, vectors written),
# holding the writer lock and the Qdrant Edge shard, until the file `go` appears; then it finishes B.
HALF_WRITE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mmrag.ingest import parse_pdf
    from mmrag.pipelines.index import open_index
    from mmrag.pipelines.lock import WriterLock
    from mmrag.settings import Settings

    root, a, b = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    idx = open_index(root, Settings().updated(TINY))
    assert idx.add([a]).ok
    with WriterLock(root):
        parsed = parse_pdf(b, b.name, idx.settings.ingest, idx.store.put_pixels)
        idx.store.begin_document(b.name, str(b), parsed.sha256, parsed.pages, parsed.elements)
        for channel in idx.channels.values():
            channel.add(parsed.elements, idx.store.read_pixels)
            channel.flush()
        print("half", flush=True)
        while not (root / "go").exists():
            time.sleep(0.05)
        idx.store.finish_document(b.name)
    idx.close()
    print("done", flush=True)
""").replace("TINY", repr(TINY))


def _start(script: str, *args: str, marker: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != marker:
        proc.kill()
        raise AssertionError(f"helper did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc


def test_python_remove_and_add_take_the_writer_lock_naming_the_holder(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    root.mkdir()
    write_manifest(root, {"settings": tiny_settings().to_dict()})
    index = open_index(root)
    holder = _start(HOLD_LOCK, str(root), marker="held")
    try:
        with pytest.raises(IndexLocked) as err:
            index.remove("a.pdf")
        message = str(err.value)
        assert f"pid {holder.pid}" in message and "-c " in message and str(root) in message
        with pytest.raises(IndexLocked, match=f"pid {holder.pid}"):
            index.add([])
        result = CliRunner().invoke(app, ["remove", "a.pdf", "--index", str(root)])
        assert result.exit_code == 2 and f"pid {holder.pid}" in result.stderr
    finally:
        holder.kill()
        holder.wait()
    assert index.remove("a.pdf") is False  # the lock died with its holder
    index.close()


def test_readers_work_beside_a_writer_and_see_only_committed_documents(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    a = write_pdf(tmp_path / "a.pdf", [["The heliotrope valve opens at 88 kPa."]])
    b = write_pdf(tmp_path / "b.pdf", [["The quokka census counted 4,210 animals on Rottnest."]])
    writer = _start(HALF_WRITE, str(root), str(a), str(b), marker="half")
    try:
        started = time.perf_counter()
        reader = open_index(root, read_only=True)
        hits = reader.search("heliotrope valve pressure", k=5)
        opened_and_searched = time.perf_counter() - started
        assert hits and hits[0].element.doc == "a.pdf"
        assert all(h.element.doc == "a.pdf" for h in reader.search("quokka census Rottnest", k=10))
        status = {d["doc"]: d["status"] for d in reader.inspect()["docs"]}
        assert status == {"a.pdf": "ready", "b.pdf": "indexing"}
        with pytest.raises(Exception, match="read-only"):
            reader.remove("a.pdf")

        runner = CliRunner()
        found = runner.invoke(app, ["search", "heliotrope valve", "--index", str(root), "--json"])
        assert found.exit_code == 0, found.stderr
        assert {h["doc"] for h in json.loads(found.stdout)["hits"]} == {"a.pdf"}
        info = runner.invoke(app, ["inspect", "--index", str(root), "--json"])
        assert info.exit_code == 0 and json.loads(info.stdout)["documents"] == 1
        answer = runner.invoke(app, ["ask", "At what pressure does the heliotrope valve open?", "--index",
                                     str(root), "--json"])
        assert answer.exit_code == 0, answer.stderr
        assert [c["doc"] for c in json.loads(answer.stdout)["citations"]][:1] == ["a.pdf"]
        questions = tmp_path / "q.jsonl"
        questions.write_text(json.dumps({"id": "1", "question": "heliotrope valve pressure", "doc": "a.pdf",
                                         "pages": [1]}) + "\n")
        scored = runner.invoke(app, ["eval", str(questions), "--index", str(root), "--channels", "text", "--json"])
        assert scored.exit_code == 0, scored.stderr
        checked = runner.invoke(app, ["check", "--index", str(root), "--json"])  # B in progress: a notice
        report = json.loads(checked.stdout)
        assert checked.exit_code == 0 and report["writer_active"], report
        assert [(f["level"], f["doc"]) for f in report["findings"] if f["check"] == "store"] == [("notice", "b.pdf")]

        # The writer goes on while the reader is open: it finishes B and closes its shard without conflict.
        (root / "go").touch()
        assert writer.wait(timeout=120) == 0, writer.stderr.read() if writer.stderr else ""
        # B's vectors were in the reader's copy; now that the store says B is ready, the reader sees it too.
        assert reader.search("quokka census Rottnest", k=1)[0].element.doc == "b.pdf"
        reader.close()
    finally:
        writer.kill()
        writer.wait()
    with open_index(root, read_only=True) as fresh:
        assert fresh.search("quokka census Rottnest", k=1)[0].element.doc == "b.pdf"
    print(f"reader open + first search beside a writer: {opened_and_searched:.2f} s")
