from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mmrag.ingest import ParsedDocument, parse_pdf
from mmrag.settings import IngestSettings


class PixelStore(dict):
    """A put_pixels target that keeps the bytes in memory."""

    def __call__(self, data: bytes, ext: str) -> str:
        key = f"{hashlib.sha256(data).hexdigest()[:16]}.{ext}"
        self[key] = data
        return key


@pytest.fixture
def store() -> PixelStore:
    return PixelStore()


@pytest.fixture
def parse(store: PixelStore):
    def run(path: Path, **overrides: object) -> ParsedDocument:
        settings = IngestSettings(**{"ocr": "none", **overrides})
        return parse_pdf(path, path.name, settings, store)

    return run
