"""OCR inputs are capped in pixels: a huge image is read scaled down, and the boxes come back in its own pixels."""

from __future__ import annotations

from factories import RecordingOCR
from PIL import Image

from mmrag.ingest.ocr import cached_read


def test_an_image_over_the_cap_is_read_scaled_down_with_boxes_in_its_own_pixels() -> None:
    engine = RecordingOCR()
    lines, hit = cached_read(engine, Image.new("RGB", (4000, 3000), "white"), None, max_pixels=3_000_000)
    (w, h), = engine.sizes
    assert w * h <= 3_000_000 and abs(w / h - 4 / 3) < 0.01
    assert not hit
    assert [round(v) for v in lines[0].bbox] == [2000, 1500, 4000, 3000]


def test_an_image_under_the_cap_is_read_as_it_is() -> None:
    engine = RecordingOCR()
    lines, _ = cached_read(engine, Image.new("RGB", (800, 600), "white"), None, max_pixels=3_000_000)
    assert engine.sizes == [(800, 600)]
    assert lines[0].bbox == (400, 300, 800, 600)
