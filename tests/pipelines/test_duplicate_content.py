"""Two byte-identical PDFs under different names are two documents: each keeps its own elements and vectors, and
removing one leaves the other whole (element ids carry the document's name as well as its content)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mmrag.pipelines.index import open_index

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"


def test_identical_copies_under_two_names_are_two_documents(tmp_path: Path) -> None:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    shutil.copy(SAMPLE / "solar_outlook_2024.pdf", folder / "solar.pdf")
    shutil.copy(SAMPLE / "solar_outlook_2024.pdf", folder / "solar-copy.pdf")
    with open_index(tmp_path / "idx") as index:
        report = index.add([folder])
        assert sorted(report.added) == ["solar-copy.pdf", "solar.pdf"]
        counts = {d: index.store.counts(doc=d) for d in ("solar.pdf", "solar-copy.pdf")}
        assert counts["solar.pdf"] == counts["solar-copy.pdf"] and counts["solar.pdf"]["page"] == 6
        for doc in ("solar.pdf", "solar-copy.pdf"):
            hits = index.search("battery storage capacity Redwood Gate", docs=[doc], k=3)
            assert hits and all(h.element.doc == doc for h in hits)
        assert index.remove("solar-copy.pdf")
        assert index.store.counts(doc="solar.pdf") == counts["solar.pdf"]
        assert index.search("battery storage capacity Redwood Gate", docs=["solar.pdf"], k=3)
