"""Fixtures for the serve tests: the sample corpus indexed once (default settings, as the README's command makes
it: the text channel, and the image channel off without CLIP weights), an IndexService over it, an HTTP client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mmrag.pipelines.index import open_index
from mmrag.serve.api import create_app
from mmrag.serve.service import IndexService

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_corpus"


@pytest.fixture(scope="session")
def serve_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index folder holding the whole sample corpus."""
    root = tmp_path_factory.mktemp("serve") / "idx"
    with open_index(root) as index:
        report = index.add([SAMPLE])
    assert report.ok, report.failed
    return root


@pytest.fixture(scope="session")
def service(serve_index: Path) -> Iterator[IndexService]:
    svc = IndexService(serve_index)
    svc.warm()
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def client(service: IndexService) -> Iterator[TestClient]:
    with TestClient(create_app(service, mcp=False)) as c:
        yield c


def copy_index(src: Path, dst: Path) -> Path:
    """A private copy of an index folder, for tests that change it."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock"))
    return dst
