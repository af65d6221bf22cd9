"""The tests' render comparison (tests/renders.py) tells a re-encoded picture from a different one."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from renders import render_difference


def _png(pixels: np.ndarray, level: int = 6) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=level)
    return out.getvalue()


@pytest.fixture
def picture() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)


def test_the_same_pixels_in_another_png_stream_agree_with_a_warning(picture: np.ndarray) -> None:
    a, b = _png(picture, 1), _png(picture, 9)
    assert a != b
    with pytest.warns(UserWarning, match="only the PNG stream differs"):
        assert render_difference(a, b) is None


def test_a_few_pixels_off_by_one_agree(picture: np.ndarray) -> None:
    nudged = picture.copy()
    nudged[0, :20] = np.minimum(nudged[0, :20].astype(int) + 1, 255).astype(np.uint8)
    with pytest.warns(UserWarning, match="of pixel values differ"):
        assert render_difference(_png(picture), _png(nudged)) is None


def test_another_picture_or_size_does_not_agree(picture: np.ndarray) -> None:
    other = picture.copy()
    other[30:90, 50:150] = 255 - other[30:90, 50:150]  # a quarter of the picture inverted
    assert "of pixel values differ" in render_difference(_png(picture), _png(other))
    assert render_difference(_png(picture), _png(picture[:, :150])) == "sizes differ: 200x120 against 150x120"


def test_the_warning_names_the_render_and_which_side_png_bytes_makes_again(picture: np.ndarray) -> None:
    import pymupdf

    from mmrag.ingest.render import png_bytes

    ours = png_bytes(pymupdf.Pixmap(_png(picture)))  # the project's own encoding of these pixels
    with pytest.warns(UserWarning, match=r"\(doc.pdf p\.3\).*first False, second True"):
        assert render_difference(_png(picture, 9), ours, "doc.pdf p.3") is None
