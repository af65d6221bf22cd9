"""Fuzz the ingestion entry point (`parse_pdf` of one document) with byte-mutated real PDFs from sample_corpus/.

Whatever the bytes, parsing returns a document or raises one of our typed errors (mmrag.errors), and the process
survives. CI runs a fixed, derandomised set of examples in bounded time; `MMRAG_FUZZ_EXAMPLES=5000` digs deeper.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pymupdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_helpers import SAMPLE

from mmrag.errors import MMRagError
from mmrag.ingest import parse_pdf
from mmrag.settings import IngestSettings

EXAMPLES = int(os.environ.get("MMRAG_FUZZ_EXAMPLES", "100"))
# Low resolutions: the fuzz is after the parser's robustness, not the quality of its renders.
FAST = IngestSettings(ocr="none", page_dpi=24, figure_dpi=24)


def _seeds() -> list[bytes]:
    """The first two pages of each sample PDF, once with compressed streams and once with plain ones."""
    seeds = []
    for path in sorted(SAMPLE.glob("*.pdf")):
        with pymupdf.open(path) as doc:
            doc.select([0, 1])
            seeds.append(doc.tobytes(garbage=1, deflate=True))
            seeds.append(doc.tobytes(garbage=1, deflate=False))
    return seeds


SEEDS = _seeds()


@st.composite
def mutated_pdf(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[at : at + len(chunk)] = chunk
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"<<", b">>", b"obj", b"endobj", b"stream", b"R", b"999999999",
                                                b"-1", b"/Length 0", b"(", b"[", b"%%EOF", b"xref", b"\x00" * 16]))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 512))]
        elif op == "truncate":
            del data[at:]
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 2048))]
    return bytes(data)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=mutated_pdf())
def test_parse_never_raises_anything_but_our_errors(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "fuzzed.pdf"
    path.write_bytes(data)
    pixels: dict[str, int] = {}

    def put(blob: bytes, ext: str) -> str:
        key = f"{hashlib.sha256(blob).hexdigest()}.{ext}"
        pixels[key] = len(blob)
        return key

    try:
        parsed = parse_pdf(path, "fuzzed.pdf", FAST, put)
    except MMRagError as exc:
        assert "fuzzed.pdf" in str(exc)  # the error names the file
        return
    assert parsed.pages >= 1 and parsed.elements
    assert all(e.image in pixels for e in parsed.elements if e.image)
    assert all(1 <= e.page <= parsed.pages for e in parsed.elements)


def test_the_seeds_parse(tmp_path: Path) -> None:
    """Unmutated, every seed parses (so the fuzz mutates working documents)."""
    for i, seed in enumerate(SEEDS[:2]):
        path = tmp_path / f"seed{i}.pdf"
        path.write_bytes(seed)
        assert parse_pdf(path, path.name, FAST, lambda b, e: "k").elements
