"""Shared fixtures: no test may reach a model hub; the tiny random CLIP, registered once; the tiny random
ColQwen2, saved once to a folder."""

from __future__ import annotations

import os

import pytest
from factories import register_tiny_clip, save_tiny_colqwen2

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The name of a tiny open_clip architecture, registered for the session; build it with pretrained='random'."""
    return register_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="session")
def tiny_colqwen2(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The folder of a tiny random ColQwen2 (16-d vectors), as `pages.model` names a local model."""
    return save_tiny_colqwen2(tmp_path_factory.mktemp("colqwen2") / "tiny-colqwen2")
