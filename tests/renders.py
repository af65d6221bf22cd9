"""Comparing two renders of the same region by their pixels, for tests that compare two runs' pixel files.

Pixel files are named by the hash of their PNG bytes. Rarely, one render of the sample corpus comes out with other
bytes in one of two processes: in stop 37's CI a figure crop (solar_outlook_2024.pdf p.3, a 1008x440 Flate image
with an ICC colour space and a soft mask), once in a full local run in stop 38, and once in a fresh-clone run in
stop 39, where the pixels were equal and only the PNG stream differed. No local experiment reproduced it (see
docs/changelog.md, 2026-12-08). The tests that compare runs still require every other field to be equal; a
render whose key differs must show the same picture: the same size, and all but a few pixel values within a small
distance. What differed is reported as a warning, so that CI's log says whether it was the pixels or only the PNG
stream.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

MAX_SHARE_DIFFERENT = 0.01  # of the pixel values
MAX_MEAN_DIFFERENCE = 1.0  # on 0-255, over all pixel values


def render_difference(a: bytes, b: bytes, label: str = "") -> str | None:
    """None when two PNGs show the same picture within the tolerances above; otherwise why they do not.

    label: what the renders are (document, page, element), for the warning."""
    x = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.int16)
    y = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.int16)
    if x.shape != y.shape:
        return f"sizes differ: {x.shape[1]}x{x.shape[0]} against {y.shape[1]}x{y.shape[0]}"
    diff = np.abs(x - y)
    share, mean, top = float((diff > 0).mean()), float(diff.mean()), int(diff.max())
    summary = f"{share:.3%} of pixel values differ, mean difference {mean:.3f}, largest {top}"
    if share > MAX_SHARE_DIFFERENT or mean > MAX_MEAN_DIFFERENCE:
        return summary
    same = " (the pixels are equal: only the PNG stream differs)" if top == 0 else ""
    warnings.warn(f"a render's PNG bytes differ between the two runs{f' ({label})' if label else ''}: {summary}"
                  f"{same}; {_which_is_canonical(a, b)}", stacklevel=2)
    return None


def _which_is_canonical(a: bytes, b: bytes) -> str:
    """Which of the two PNGs `mmrag.ingest.render.png_bytes` makes again from its own pixels (the other one came
    from another encoder or another deflate)."""
    import pymupdf

    from mmrag.ingest.render import png_bytes

    again = []
    for data in (a, b):
        pix = pymupdf.Pixmap(data)
        again.append(not pix.alpha and pix.n in (1, 3) and png_bytes(pix) == data)
    return f"png_bytes of its own pixels gives back: first {again[0]}, second {again[1]}"
