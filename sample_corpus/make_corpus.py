"""Build the mmrag sample corpus: five small PDFs with known layout, plus truth.json and questions.jsonl.

Run ``python sample_corpus/make_corpus.py [--out DIR]`` to regenerate everything (by default into this folder). The
output is deterministic: fixed PDF metadata, no unseeded randomness, reproducible saves. Each document is a spec in
``corpus/`` (its pages as blocks of text, figures and tables, and its eval questions), laid out by
``corpus/layout.py`` with the drawing helpers of ``corpus/draw.py`` and ``corpus/charts.py``. The builder knows where
every figure, table, caption, header and footer is, and writes that to ``truth.json``; ``questions.jsonl`` holds eval
questions whose answers live in the text, the tables, the vector or raster charts, the figures or the page layout.
To add a document, write a spec module and list it in ``corpus/__init__.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # the corpus package beside this script, also when loaded by file path

from corpus import DOCS  # noqa: E402
from corpus.layout import Builder  # noqa: E402


def build(out_dir: Path) -> None:
    """Write the PDFs, truth.json and questions.jsonl into out_dir."""
    out_dir = Path(out_dir)
    for spec in DOCS:
        spec.check()
    out_dir.mkdir(parents=True, exist_ok=True)
    docs = {spec.name: Builder(spec).build(out_dir) for spec in DOCS}
    (out_dir / "truth.json").write_text(json.dumps({"docs": docs}, indent=1, ensure_ascii=False) + "\n", "utf-8")
    questions = [(spec.name, *row) for spec in DOCS for row in spec.question_rows()]
    lines = [
        json.dumps({"id": f"q{i}", "question": q, "doc": doc, "pages": pages, "answer": a, "evidence": [evidence]},
                   ensure_ascii=False)
        for i, (doc, pages, evidence, q, a) in enumerate(questions, start=1)
    ]
    (out_dir / "questions.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the mmrag sample corpus (PDFs, truth.json, questions.jsonl).")
    parser.add_argument("--out", type=Path, default=HERE, metavar="DIR", help="output folder (default: %(default)s)")
    build(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
