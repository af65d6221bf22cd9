"""Fixtures of the image-channel tests (FAISS and Qdrant alike): the tiny random CLIP, pixels, image elements."""

from __future__ import annotations

import pytest
from factories import Pixels, image_corpus, tiny_clip_encoder

from mmrag.elements import Element
from mmrag.models.image_encoder import OpenClipEncoder


@pytest.fixture(scope="module")
def encoder(tiny_clip: str) -> OpenClipEncoder:
    """A tiny random open_clip model: text-image similarity is meaningless, the mechanics are not."""
    return tiny_clip_encoder(tiny_clip, batch_size=8)


@pytest.fixture
def pixels() -> Pixels:
    return Pixels()


@pytest.fixture
def corpus(pixels: Pixels) -> list[Element]:
    return image_corpus(pixels)

