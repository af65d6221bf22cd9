"""`make_corpus.py --out DIR` writes the whole corpus into DIR; its truth and questions match the committed ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "sample_corpus" / "make_corpus.py"


def test_out_option_writes_the_corpus(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True, timeout=300)
    committed = sorted(p.name for p in SCRIPT.parent.iterdir() if p.suffix in {".pdf", ".json", ".jsonl"})
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in ("truth.json", "questions.jsonl"):
        assert (out / name).read_text(encoding="utf-8") == (SCRIPT.parent / name).read_text(encoding="utf-8")
