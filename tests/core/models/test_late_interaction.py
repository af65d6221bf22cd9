"""ColVisionEncoder (ColQwen2 / ColPali through transformers) on a tiny random ColQwen2: multivector shapes,
batching that never leaks padding, MaxSim as transformers scores it, token pooling, and one-line
ModelUnavailable when the weights are not there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmrag.errors import ModelUnavailable
from mmrag.models.late_interaction import (
    ColVisionEncoder,
    LateInteractionEncoder,
    load_pages_encoder,
    maxsim,
    pool_tokens,
    pooled_vector,
)


@pytest.fixture(scope="module")
def encoder(tiny_colqwen2: str) -> ColVisionEncoder:
    return load_pages_encoder(tiny_colqwen2, device="cpu", batch_size=2)


def _pages() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    pages = [Image.fromarray(rng.integers(0, 255, (90 + 25 * i, 70 + 10 * i, 3), dtype=np.uint8)) for i in range(4)]
    return [*pages, Image.new("L", (60, 80), 200)]


def test_multivectors_per_page_and_query(encoder: ColVisionEncoder, tiny_colqwen2: str) -> None:
    assert isinstance(encoder, LateInteractionEncoder)
    assert encoder.dim == 16 and encoder.model_type == "colqwen2"
    assert encoder._model is None  # nothing loads until something is encoded
    pages = encoder.encode_pages(_pages())
    queries = encoder.encode_queries(["solar capacity by region", "a"])
    assert len(pages) == 5 and len(queries) == 2
    for vectors in (*pages, *queries):
        assert vectors.dtype == np.float32 and vectors.ndim == 2 and vectors.shape[1] == 16
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # larger pages have more image tokens; a longer query more tokens
    assert len(pages[3]) > len(pages[0]) and len(queries[0]) > len(queries[1])
    assert encoder.fingerprint() == {"model": Path(tiny_colqwen2).name, "dim": 16, "max_pixels": 0}


def test_batches_never_mix_padding_into_the_vectors(encoder: ColVisionEncoder) -> None:
    """Pages of different sizes batched together (padded to the longest) give each page's own vectors."""
    images = _pages()
    together = encoder.encode_pages(images)  # batches of 2, mixed sizes
    alone = [encoder.encode_pages([im])[0] for im in images]
    for a, b in zip(together, alone):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_maxsim_is_the_late_interaction_score_transformers_computes(encoder: ColVisionEncoder) -> None:
    pages = encoder.encode_pages(_pages())
    queries = encoder.encode_queries(["wafer yield by lot", "a table of results"])
    reference = encoder.processor.score_retrieval([torch.from_numpy(q) for q in queries],
                                                  [torch.from_numpy(p) for p in pages])
    ours = np.array([[maxsim(q, p) for p in pages] for q in queries])
    np.testing.assert_allclose(ours, reference.numpy(), rtol=1e-5, atol=1e-4)


def test_encoders_of_one_model_share_its_weights(encoder: ColVisionEncoder, tiny_colqwen2: str) -> None:
    """A server reopening its index view (a new encoder each time) loads the model once per process."""
    again = load_pages_encoder(tiny_colqwen2, device="cpu", batch_size=8)
    assert again.model is encoder.model and again.processor is encoder.processor


def test_max_pixels_makes_fewer_vectors(tiny_colqwen2: str) -> None:
    small = load_pages_encoder(tiny_colqwen2, device="cpu", max_pixels=56 * 56)
    page = _pages()[3]
    assert len(small.encode_pages([page])[0]) < len(load_pages_encoder(tiny_colqwen2, device="cpu")
                                                    .encode_pages([page])[0])
    assert small.fingerprint()["max_pixels"] == 56 * 56


def test_token_pooling() -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((10, 16)).astype(np.float32)
    vectors = np.repeat(centres, 3, axis=0) + 0.01 * rng.standard_normal((30, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert pool_tokens(vectors, 1) is not None and np.array_equal(pool_tokens(vectors, 1), vectors)
    pooled = pool_tokens(vectors, 3)
    assert pooled.shape == (10, 16)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-5)
    # near-duplicate vectors merge: every centre keeps a pooled vector close to it
    unit = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    assert (unit @ pooled.T).max(axis=1).min() > 0.99
    query = rng.standard_normal((4, 16)).astype(np.float32)
    assert maxsim(query, pooled) == pytest.approx(maxsim(query, vectors), rel=0.05)
    assert pool_tokens(vectors[:2], 3).shape == (2, 16)  # too few to pool
    np.testing.assert_allclose(np.linalg.norm(pooled_vector(vectors)), 1.0, atol=1e-6)


@pytest.fixture
def offline_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path / "hf"


def test_missing_weights_give_one_line_with_the_remedy(offline_empty_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as info:
        load_pages_encoder("vidore/colqwen2-v1.0")  # colpali-engine's name: its transformers twin is asked for
    message = str(info.value)
    assert "\n" not in message and message.startswith("pages model")
    assert "huggingface-cli download vidore/colqwen2-v1.0-hf" in message and "local folder" in message
    with pytest.raises(ModelUnavailable, match="no such folder"):
        load_pages_encoder(str(tmp_path / "missing"))
    with pytest.raises(ModelUnavailable, match="no readable config.json"):
        load_pages_encoder(str(tmp_path))
    other = tmp_path / "clip"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "clip"}))
    with pytest.raises(ModelUnavailable, match="not a transformers ColQwen2/ColPali checkpoint"):
        load_pages_encoder(str(other))


def test_a_cached_hub_model_resolves_offline(offline_empty_cache: Path, tiny_colqwen2: str) -> None:
    """A name found in the Hugging Face cache loads with the hub unreachable, and is known by its name."""
    snapshot = offline_empty_cache / "hub" / "models--vidore--colqwen2-v1.0-hf" / "snapshots" / "abc"
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(tiny_colqwen2, target_is_directory=True)
    enc = load_pages_encoder("vidore/colqwen2-v1.0", device="cpu")
    assert enc.path == str(snapshot) and enc.dim == 16
    assert enc.fingerprint()["model"] == "vidore/colqwen2-v1.0-hf"  # the repository, not the snapshot's hash
    assert enc.encode_queries(["x"])[0].shape[1] == 16
