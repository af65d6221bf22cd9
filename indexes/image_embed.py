"""Embedding element pixels for the image channel, whichever store keeps the vectors (FAISS or Qdrant); decoding
them in chunks for the pixel channels (image, pages)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from mmrag.elements import Element
from mmrag.indexes.base import PixelReader
from mmrag.models.image_encoder import ImageEncoder

log = logging.getLogger(__name__)

ENCODE_CHUNK = 256  # images decoded and held in memory at once while adding


def images_by_doc(elements: Iterable[Element], kinds: Iterable[str]) -> dict[str, list[Element]]:
    """The elements the image channel embeds (of these kinds, with pixels), by document; the last of an id wins."""
    wanted = set(kinds)
    by_doc: dict[str, dict[str, Element]] = {}
    for e in elements:
        if e.kind in wanted and e.image:
            by_doc.setdefault(e.doc, {})[e.id] = e
    return {doc: list(members.values()) for doc, members in by_doc.items()}


def decoded_chunks(
    elements: Sequence[Element], read_pixels: PixelReader, chunk: int, channel: str
) -> Iterator[tuple[list[Element], list[Image.Image]]]:
    """The elements in chunks of `chunk`, each with its decoded pixels; an element whose pixels are missing or do
    not decode is left out with a warning naming the `channel`, so it loses one element, not the document."""
    for start in range(0, len(elements), chunk):
        kept: list[Element] = []
        images: list[Image.Image] = []
        for e in elements[start : start + chunk]:
            try:
                image = Image.open(io.BytesIO(read_pixels(e.image or "")))
                image.load()
            except Exception as exc:
                log.warning("%s channel: skipping %s (%s p.%d): %s", channel, e.id, e.doc, e.page, exc)
                continue
            images.append(image)
            kept.append(e)
        if images:
            yield kept, images


def embed_pixels(
    elements: Sequence[Element], read_pixels: PixelReader, encoder: ImageEncoder
) -> tuple[list[Element], np.ndarray]:
    """The elements whose pixels could be read, and their embeddings (rows in that order, float32).

    A missing or undecodable crop loses one element (a warning), not the document.
    """
    kept: list[Element] = []
    parts: list[np.ndarray] = []
    for members, images in decoded_chunks(elements, read_pixels, ENCODE_CHUNK, "image"):
        kept += members
        parts.append(np.asarray(encoder.encode_images(images), dtype=np.float32))
    vectors = np.concatenate(parts) if parts else np.zeros((0, int(encoder.dim)), np.float32)
    return kept, vectors
