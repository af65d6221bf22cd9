"""Fixtures for the pipeline tests: the sample corpus indexed once, with the tiny random CLIP (`tiny_clip`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mmrag.pipelines.index import MMIndex, open_index
from mmrag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_corpus"
def tiny_clip_settings(name: str) -> Settings:
    return Settings().updated({"image.model": name, "image.pretrained": "random", "image.device": "cpu"})


@pytest.fixture(scope="session")
def tiny_settings(tiny_clip: str) -> Settings:
    """Default settings with the image channel on the tiny random CLIP."""
    return tiny_clip_settings(tiny_clip)


@pytest.fixture(scope="session")
def corpus_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for pdf in SAMPLE.glob("*.pdf"):
        shutil.copy(pdf, folder / pdf.name)
    return folder


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, corpus_copy: Path, tiny_settings: Settings) -> MMIndex:
    """The whole sample corpus indexed with both channels (text: real BGE small + BM25; image: tiny random CLIP)."""
    root = tmp_path_factory.mktemp("index") / "idx"
    import torch

    index = open_index(root, tiny_settings)
    torch.manual_seed(0)  # the random CLIP is built on first use: the same weights, hence rankings, every run
    report = index.add([corpus_copy])
    assert report.ok, report.failed
    yield index
    index.close()
