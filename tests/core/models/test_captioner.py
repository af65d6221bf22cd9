from __future__ import annotations

import pytest
from PIL import Image

from mmrag.errors import ModelUnavailable
from mmrag.generators.random_qwen2vl import build_random_qwen2vl
from mmrag.models.captioner import Captioner
from mmrag.settings import CaptionerSettings


@pytest.fixture(scope="module")
def tiny_vlm():
    return build_random_qwen2vl("tiny", seed=0)


@pytest.fixture
def captioner(tiny_vlm):
    model, processor = tiny_vlm
    cache: dict[str, str] = {}
    calls: list[int] = []
    generate = model.generate

    def counting_generate(*args, **kwargs):
        calls.append(kwargs["pixel_values"].shape[0] if "pixel_values" in kwargs else 0)
        return generate(*args, **kwargs)

    cap = Captioner(model, processor, model_name="tiny", max_new_tokens=4, batch_size=2,
                    cache_get=cache.get, cache_put=cache.__setitem__)  # fmt: skip
    cap.model = _Spy(model, counting_generate)
    return cap, cache, calls


class _Spy:
    """The model with generate wrapped, everything else passed through."""

    def __init__(self, model, generate) -> None:
        self._model, self.generate = model, generate

    def __getattr__(self, name):
        return getattr(self._model, name)


def _images() -> list[Image.Image]:
    return [Image.new("RGB", (120, 90), c) for c in ("white", "red", "white", "blue")]


def test_captions_one_per_image_with_cache(captioner):
    cap, cache, calls = captioner
    images = _images()
    first = cap.caption(images)
    assert len(first) == 4 and all(isinstance(t, str) for t in first)
    assert first[0] == first[2]  # same pixels, same caption, captioned once
    assert len(cache) == 3 and len(calls) == 2  # 3 distinct images in batches of 2
    assert cap.caption(images) == first and len(calls) == 2  # all from the cache
    assert cap.caption([Image.new("RGB", (120, 90), "green")]) and len(calls) == 3


def test_cache_key_depends_on_pixels_and_model(tiny_vlm):
    model, processor = tiny_vlm
    a, b = Captioner(model, processor, model_name="a"), Captioner(model, processor, model_name="b")
    white, red = _images()[:2]
    assert a.cache_key(white) == a.cache_key(white.copy()) != a.cache_key(red)
    assert a.cache_key(white) != b.cache_key(white)


def test_batched_caption_matches_single(tiny_vlm):
    model, processor = tiny_vlm
    cap = Captioner(model, processor, max_new_tokens=3, batch_size=4)
    images = [Image.new("RGB", (120, 90), "white"), Image.new("RGB", (60, 200), "red")]  # different token counts
    assert cap.caption(images) == [cap.caption([im])[0] for im in images]


def test_load_and_settings(tiny_vlm, tmp_path, monkeypatch):
    model, processor = tiny_vlm
    model.save_pretrained(tmp_path / "cap")
    processor.save_pretrained(tmp_path / "cap")
    cap = Captioner.load(str(tmp_path / "cap"), "cpu", max_new_tokens=2)
    assert len(cap.caption(_images()[:1])) == 1
    assert Captioner.from_settings(CaptionerSettings()) is None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelUnavailable, match="captioner model"):
        Captioner.from_settings(CaptionerSettings(model="nobody/no-captioner"))
