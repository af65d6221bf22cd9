"""OCR inputs are capped in pixels: a huge image is read scaled down, and the boxes come back in its own pixels."""

from __future__ import annotations

from PIL import Image

from mmrag.ingest.ocr import OCRLine, cached_read


class _Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def read(self, image: Image.Image) -> list[OCRLine]:
        self.sizes.append(image.size)
        w, h = image.size
        return [OCRLine("corner", (w / 2, h / 2, w, h), 0.9)]  # the lower right quarter, in the pixels it saw


def test_an_image_over_the_cap_is_read_scaled_down_with_boxes_in_its_own_pixels() -> None:
    engine = _Recorder()
    lines, hit = cached_read(engine, Image.new("RGB", (4000, 3000), "white"), None, max_pixels=3_000_000)
    (w, h), = engine.sizes
    assert w * h <= 3_000_000 and abs(w / h - 4 / 3) < 0.01
    assert not hit
    assert [round(v) for v in lines[0].bbox] == [2000, 1500, 4000, 3000]


def test_an_image_under_the_cap_is_read_as_it_is() -> None:
    engine = _Recorder()
    lines, _ = cached_read(engine, Image.new("RGB", (800, 600), "white"), None, max_pixels=3_000_000)
    assert engine.sizes == [(800, 600)]
    assert lines[0].bbox == (400, 300, 800, 600)
