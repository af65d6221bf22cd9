"""SIGKILL `mmrag index` (and `mmrag remove`) at five points; the next run completes and `mmrag check` passes.

The kill comes from the MMRAG_TEST_KILL_AT hook (mmrag/crash.py) at a named point, so each test kills the process
exactly where it means to: while a document is parsed (pixel files written, no rows), right after a document's rows
were committed (no vectors), while vectors are written, before the text shard is optimised, and half way through a
removal (vectors deleted, rows still there).
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest
from rel_helpers import TINY_TOML, mmrag, tiny_settings, write_pdf
from typer.testing import CliRunner

from mmrag.cli.app import app
from mmrag.pipelines.check import check_index
from mmrag.pipelines.index import open_index

DOCS = {
    "a.pdf": [["The heliotrope valve opens at 88 kPa.", "It was designed in Oslo in 1961."],
              ["Maintenance: replace the seal every 400 hours."]],
    "b.pdf": [["The quokka census counted 4,210 animals on Rottnest Island."]],
    "c.pdf": [["Basalt bridges in Iceland span up to 312 metres."], ["Table 1 lists the ten longest spans."]],
}


# Documents and their status right after the kill (b.pdf's page render is the 1st new pixel file, c.pdf's two
# pages the 2nd and 3rd; b.pdf is the 1st document written, c.pdf the 2nd). Ingest streams: a document's row
# (status indexing) is written before its first pixels, so a kill while c.pdf's pages are stored leaves it
# indexing — invisible to searches, purged and redone by the next run.
KILLED_STATE = {
    "parse@3": {"a.pdf": "ready", "b.pdf": "ready", "c.pdf": "indexing"},
    "store@2": {"a.pdf": "ready", "b.pdf": "ready", "c.pdf": "indexing"},
    "embed@2": {"a.pdf": "ready", "b.pdf": "ready", "c.pdf": "indexing"},
    "optimize": {"a.pdf": "ready"},
    "remove": {"a.pdf": "indexing"},
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name, pages in DOCS.items():
        write_pdf(folder / name, pages)
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> tuple[Path, dict]:
    """A clean index of the whole corpus, and a base index holding only a.pdf (the 'already indexed' state)."""
    clean = tmp_path_factory.mktemp("clean") / "idx"
    with open_index(clean, tiny_settings()) as index:
        assert index.add([corpus]).ok
        counts = {d["doc"]: d["elements"] for d in index.inspect()["docs"]}
    base = tmp_path_factory.mktemp("base") / "idx"
    with open_index(base, tiny_settings()) as index:
        assert index.add([corpus / "a.pdf"]).ok
    return base, counts


def _state(root: Path) -> dict:
    with open_index(root, read_only=True) as index:
        info = index.inspect()
        return {d["doc"]: (d["status"], d["sha256"], d["elements"]) for d in info["docs"]}


@pytest.mark.parametrize("point", ["parse@3", "store@2", "embed@2", "optimize", "remove"])
def test_sigkill_then_the_next_run_completes_and_check_passes(
    point: str, corpus: Path, reference: tuple[Path, dict], tmp_path: Path
) -> None:
    base, counts = reference
    root = tmp_path / "idx"
    shutil.copytree(base, root)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    before = _state(root)
    env = {"MMRAG_TEST_KILL_AT": point}
    if point == "remove":
        killed = mmrag("remove", "a.pdf", "--index", str(root), env=env)
    elif point == "optimize":
        killed = mmrag("index", str(corpus / "a.pdf"), "--index", str(root), "--optimize", env=env)
    else:
        killed = mmrag("index", str(corpus), "--index", str(root), "--config", str(config), env=env)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])

    assert {doc: status for doc, (status, *_) in _state(root).items()} == KILLED_STATE[point]
    # Killed: whatever is not `ready` is invisible to readers, and what was indexed before is unchanged.
    after_kill = _state(root)
    with open_index(root, read_only=True) as index:
        shown = {h.element.doc for h in index.search("valve quokka basalt bridge census", k=20)}
    assert shown <= {doc for doc, (status, *_) in after_kill.items() if status == "ready"}
    if point != "remove":
        assert after_kill["a.pdf"] == before["a.pdf"]

    # The next run completes, purging the half-written document, and the index checks clean.
    with open_index(root) as index:
        report = index.add([corpus])
        assert report.ok, report.failed
        result = check_index(index)
        assert result.ok and not [f for f in result.findings if f.level == "error"], [
            f.line() for f in result.findings]
        final = {d["doc"]: (d["status"], d["elements"]) for d in index.inspect()["docs"]}
    assert final == {doc: ("ready", n) for doc, n in counts.items()}
    checked = CliRunner().invoke(app, ["check", "--index", str(root)])
    assert checked.exit_code == 0, checked.output
