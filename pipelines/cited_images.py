"""Write what an answer cites as images: each cited crop, and its page render with the cited box drawn."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from mmrag.elements import Answer, BBox, Element

if TYPE_CHECKING:
    from mmrag.pipelines.index import MMIndex


def write_cited_images(index: MMIndex, answer: Answer, folder: str | Path) -> list[str]:
    """Paths written: `<doc>-p<N>-<element>.png` crops and `<doc>-p<N>-page.png` pages with boxes in red."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    elements = index.store.get([c.element_id for c in answer.citations])
    boxes: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    for c in answer.citations:
        e = elements.get(c.element_id)
        if e is None:
            continue
        stem = f"{Path(e.doc).stem}-p{e.page}"
        if e.image and e.kind != "page":
            path = folder / f"{stem}-{e.id}.png"
            Image.open(io.BytesIO(index.store.read_pixels(e.image))).save(path)
            written.append(str(path))
        if e.kind != "page":
            boxes.setdefault((e.doc, e.page), []).append(e.bbox)
        else:
            boxes.setdefault((e.doc, e.page), [])
    for (doc, page), rects in boxes.items():
        page_el = index.page_element(doc, page)
        if page_el is None or not page_el.image:
            continue
        img = page_with_boxes(page_el, index.store.read_pixels(page_el.image), rects)
        path = folder / f"{Path(doc).stem}-p{page}-page.png"
        img.save(path)
        written.append(str(path))
    return written


def page_with_boxes(page: Element, pixels: bytes, rects: Sequence[BBox]) -> Image.Image:
    """The page element's render (`pixels`) with each box (PDF points) drawn in red."""
    img = Image.open(io.BytesIO(pixels)).convert("RGB")
    sx = img.width / max(page.bbox[2] - page.bbox[0], 1)
    sy = img.height / max(page.bbox[3] - page.bbox[1], 1)
    draw = ImageDraw.Draw(img)
    width = max(2, round(img.width / 300))
    for x0, y0, x1, y1 in rects:
        draw.rectangle([x0 * sx, y0 * sy, x1 * sx, y1 * sy], outline=(220, 30, 30), width=width)
    return img
