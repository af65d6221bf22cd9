"""OpenClipEncoder: dims and normalisation, offline-first weight resolution, fast ModelUnavailable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from factories import TINY_CLIP as TINY
from factories import TINY_CLIP_CFG as TINY_CFG
from factories import tiny_clip_encoder
from PIL import Image

from mmrag.errors import ModelUnavailable
from mmrag.models.image_encoder import ImageEncoder, OpenClipEncoder
from mmrag.models.open_clip_loader import load_open_clip


@pytest.fixture(scope="session")
def tiny_encoder(tiny_clip: str) -> OpenClipEncoder:
    return tiny_clip_encoder(tiny_clip, batch_size=3)


@pytest.fixture
def offline_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path / "hf"


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (50 + 7 * i, 90, 3), dtype=np.uint8)) for i in range(5)]
    images.append(Image.new("RGBA", (40, 70), (10, 200, 30, 90)))
    images.append(Image.new("L", (64, 64), 128))
    images.append(Image.new("RGB", (30, 300), "white").convert("P"))
    return images


def test_dims_and_normalisation(tiny_encoder: OpenClipEncoder) -> None:
    assert isinstance(tiny_encoder, ImageEncoder)
    assert tiny_encoder.dim == 32
    images = tiny_encoder.encode_images(_images())
    texts = tiny_encoder.encode_text(["a bar chart", "a table of results"])
    for out, n in ((images, 8), (texts, 2)):
        assert out.dtype == np.float32 and out.shape == (n, 32)
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert tiny_encoder.encode_images([]).shape == (0, 32)
    assert tiny_encoder.fingerprint() == {"model": TINY, "pretrained": "random", "dim": 32}


def test_batched_pipeline_matches_open_clip_reference(tiny_encoder: OpenClipEncoder) -> None:
    """Our split preprocessing (PIL on CPU threads, normalise on device) equals open_clip's transform."""
    images = [im.convert("RGB") for im in _images()[:5]]
    with torch.inference_mode():
        ref = tiny_encoder.model.encode_image(torch.stack([tiny_encoder.preprocess(im) for im in images]))
    ref = torch.nn.functional.normalize(ref, dim=-1).numpy()
    np.testing.assert_allclose(tiny_encoder.encode_images(images), ref, atol=1e-5)
    one_by_one = np.concatenate([tiny_encoder.encode_images([im]) for im in images])
    np.testing.assert_allclose(one_by_one, ref, atol=1e-5)


def test_transparent_background_is_white(tiny_encoder: OpenClipEncoder) -> None:
    transparent = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    white = Image.new("RGB", (64, 64), "white")
    np.testing.assert_allclose(tiny_encoder.encode_images([transparent]), tiny_encoder.encode_images([white]),
                               atol=1e-5)


@pytest.mark.parametrize(
    ("model", "pretrained"),
    [
        ("ViT-B-32", "laion2b_s34b_b79k"),
        ("ViT-B-32", "openai"),  # a URL-hosted tag
        ("ViT-B-32", "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"),
        ("hf-hub:timm/ViT-B-16-SigLIP", "webli"),
        ("ViT-B-16-SigLIP", "webli"),
        ("ViT-B-16-SigLIP", "random"),  # random weights, but its tokenizer lives on the hub
        ("ViT-B-32", "/no/such/open_clip_pytorch_model.bin"),
        ("ViT-B-32", "no-such-tag"),
    ],
)
def test_unavailable_weights_fail_fast_offline(offline_empty_cache: Path, model: str, pretrained: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ModelUnavailable) as info:
        OpenClipEncoder.load(model, pretrained, device="cpu")
    assert time.perf_counter() - start < 2.0
    assert info.value.remedy and "\n" not in str(info.value)


def test_remedy_names_download_and_local_path(offline_empty_cache: Path) -> None:
    with pytest.raises(ModelUnavailable) as info:
        OpenClipEncoder.load("ViT-B-32", "laion2b_s34b_b79k")
    assert "create_model_and_transforms('ViT-B-32', pretrained='laion2b_s34b_b79k')" in info.value.remedy
    assert "--image-pretrained" in info.value.remedy


def test_loads_local_checkpoint_file(tiny_encoder: OpenClipEncoder, tmp_path: Path, offline_empty_cache: Path) -> None:
    path = tmp_path / "tiny.pt"
    torch.save(tiny_encoder.model.state_dict(), path)
    loaded = OpenClipEncoder.load(TINY, str(path), device="cpu")
    images = _images()[:3]
    np.testing.assert_allclose(loaded.encode_images(images), tiny_encoder.encode_images(images), atol=1e-5)
    assert loaded.fingerprint()["pretrained"].startswith("tiny.pt:")


def test_loads_hf_layout_directory(tiny_encoder: OpenClipEncoder, tmp_path: Path, offline_empty_cache: Path) -> None:
    folder = tmp_path / "tiny-repo"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CFG, "preprocess_cfg": {}}))
    torch.save(tiny_encoder.model.state_dict(), folder / "open_clip_pytorch_model.bin")
    loaded = OpenClipEncoder.load("ViT-B-32", str(folder), device="cpu")
    assert loaded.dim == 32
    np.testing.assert_allclose(loaded.encode_text(["x"]), tiny_encoder.encode_text(["x"]), atol=1e-5)


def test_tag_resolves_from_hf_cache_without_network(
    tiny_encoder: OpenClipEncoder, offline_empty_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tag whose weights a previous download left in the HF cache loads with the hub offline."""
    from open_clip import pretrained as registry

    monkeypatch.setitem(registry._PRETRAINED, TINY, {"cached": {"hf_hub": "mmrag-test/tiny-clip/", "url": ""}})
    snapshot = offline_empty_cache / "hub" / "models--mmrag-test--tiny-clip" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    torch.save(tiny_encoder.model.state_dict(), snapshot / "open_clip_pytorch_model.bin")
    loaded = OpenClipEncoder.load(TINY, "cached", device="cpu")
    assert loaded.fingerprint()["pretrained"] == "cached"
    np.testing.assert_allclose(loaded.encode_text(["x"]), tiny_encoder.encode_text(["x"]), atol=1e-5)


def test_none_pretrained_is_rejected(tiny_clip: str) -> None:
    with pytest.raises(ValueError, match="random"):
        OpenClipEncoder.load(tiny_clip, None)


@pytest.mark.gpu
def test_cuda_encoding_matches_cpu(tiny_clip: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    cpu = OpenClipEncoder.load(tiny_clip, "random", device="cpu")
    gpu = OpenClipEncoder(cpu.model.cuda(), cpu.preprocess, cpu.tokenizer, name=tiny_clip, pretrained="random",
                          device="cuda", batch_size=4)
    ref = OpenClipEncoder(gpu.model.cpu().float(), cpu.preprocess, cpu.tokenizer, name=tiny_clip,
                          pretrained="random", device="cpu")
    gpu.model.cuda()
    images = _images()
    np.testing.assert_allclose(gpu.encode_images(images), ref.encode_images(images), atol=2e-2)
    np.testing.assert_allclose(gpu.encode_text(["a chart"]), ref.encode_text(["a chart"]), atol=2e-2)


def test_hf_hub_id_resolves_from_hf_cache_without_network(tiny_encoder: OpenClipEncoder,
                                                          offline_empty_cache: Path) -> None:
    """An `hf-hub:` model (config + weights in one repo) that a previous download left in the cache loads offline."""
    repo = offline_empty_cache / "hub" / "models--mmrag-test--tiny-hub-clip"
    snapshot = repo / "snapshots" / "def456"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("def456")
    (snapshot / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CFG, "preprocess_cfg": {}}))
    torch.save(tiny_encoder.model.state_dict(), snapshot / "open_clip_pytorch_model.bin")
    loaded = OpenClipEncoder.load("hf-hub:mmrag-test/tiny-hub-clip", "ignored", device="cpu")
    assert loaded.fingerprint() == {"model": "hf-hub:mmrag-test/tiny-hub-clip",
                                    "pretrained": "hf-hub:mmrag-test/tiny-hub-clip", "dim": 32}
    np.testing.assert_allclose(loaded.encode_text(["x"]), tiny_encoder.encode_text(["x"]), atol=1e-5)


def test_url_hosted_tag_is_not_fetched_offline(tiny_clip: str, offline_empty_cache: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """open_clip fetches URL-hosted tags with urllib, which ignores HF_HUB_OFFLINE: we must stop it first."""
    import urllib.request

    from open_clip import pretrained as registry

    attempts: list[object] = []

    def no_network(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    url = "https://example.invalid/mmrag-tiny-not-cached-0123.pt"
    monkeypatch.setitem(registry._PRETRAINED, tiny_clip, {"web": {"url": url, "hf_hub": ""}})
    with pytest.raises(ModelUnavailable) as info:
        OpenClipEncoder.load(tiny_clip, "web", device="cpu")
    assert "create_model_and_transforms" in info.value.remedy and attempts == []


FAIL_FAST = """
import json, sys
from mmrag.errors import ModelUnavailable
from mmrag.models.image_encoder import OpenClipEncoder
try:
    OpenClipEncoder.load("ViT-B-32", "laion2b_s34b_b79k")
except ModelUnavailable as exc:
    print(json.dumps({"error": str(exc), "imported": [m for m in ("torch", "open_clip") if m in sys.modules]}))
"""


def test_missing_tag_weights_are_reported_before_torch_is_imported(offline_empty_cache: Path) -> None:
    """Offline with nothing cached, the tag's weights are known missing from open_clip's registry file alone."""
    out = subprocess.run([sys.executable, "-c", FAIL_FAST], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["imported"] == []
    with pytest.raises(ModelUnavailable) as info:  # the full path (open_clip itself) says the same
        load_open_clip("ViT-B-32", "laion2b_s34b_b79k", "cpu")
    assert result["error"] == str(info.value)
