"""Figure regions: embedded raster images and clusters of vector drawings (charts), with their labels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pymupdf

from mmrag.ingest.blocks import Block, Line, Rect4, union

CLUSTER_GAP = 8.0  # drawings closer than this belong to one figure
LABEL_GAP = 24.0  # axis labels and legends this close to a chart belong to it
LEGEND_GAP = 40.0  # side-by-side pieces (a pie and its legend) this close are one figure


@dataclass
class Region:
    bbox: Rect4
    kind: str  # "raster" | "vector"
    xref: int = 0


@dataclass
class RasterImage:
    bbox: Rect4
    xref: int
    pixels: int
    width: int = 0  # pixels across
    height: int = 0  # pixels down

    @property
    def dpi(self) -> float:
        """The image's own resolution where it is placed (0 when unknown)."""
        across = self.bbox[2] - self.bbox[0]
        return self.width / across * 72 if self.width and across > 0 else 0.0


def _area(r: Rect4) -> float:
    return max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])


def _near(a: Rect4, b: Rect4, gap: float) -> bool:
    return a[0] - gap <= b[2] and b[0] - gap <= a[2] and a[1] - gap <= b[3] and b[1] - gap <= a[3]


def _inside(inner: Rect4, outer: Rect4, tol: float = 2.0) -> bool:
    return (
        inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol and inner[2] <= outer[2] + tol
        and inner[3] <= outer[3] + tol
    )


def _center_in(box: Rect4, region: Rect4) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


def merge_rects(rects: list[Rect4], gap: float) -> list[Rect4]:
    """Union rectangles that overlap or lie within gap of each other, until none do."""
    out = sorted(rects)
    changed = True
    while changed:
        changed = False
        merged: list[Rect4] = []
        for r in out:
            for i, m in enumerate(merged):
                if _near(m, r, gap):
                    merged[i] = union([m, r])
                    changed = True
                    break
            else:
                merged.append(r)
        out = merged
    return out


REPEAT_SAMPLE = 24  # pages looked at for repeated images, spread through the document
REPEAT_SHARE = 0.5  # an image on at least this share of those pages (and on 3) is decoration


def repeated_images(pdf: pymupdf.Document) -> set[tuple[int, int]]:
    """The pixel sizes (width, height) of images used on most pages: logos, slide-template art, ornaments.

    They are decoration, not figures: read as figures they are OCR'd on every page, and merged with a figure
    beside them they swallow the slide title between the two. Read from the pages' resources (no content is
    parsed) on at most REPEAT_SAMPLE pages spread through the document; a placement is matched by its pixel size,
    since looking up each placement's xref (`get_image_info(xrefs=True)`) costs up to a second per slide. A
    resource dictionary that every page shares (the same several images listed everywhere) says nothing, and
    gives no decoration.
    """
    n = len(pdf)
    if n < 3:
        return set()
    step = max(1, n // REPEAT_SAMPLE)
    sample = list(range(0, n, step))[:REPEAT_SAMPLE]
    counts: dict[tuple[int, int], int] = {}
    listed: set[frozenset[tuple[int, int]]] = set()
    for pno in sample:
        try:
            sizes = frozenset((int(im[2]), int(im[3])) for im in pdf.get_page_images(pno))
        except Exception:  # an unreadable page: it says nothing about the others
            continue
        listed.add(sizes)
        for size in sizes:
            counts[size] = counts.get(size, 0) + 1
    if len(listed) == 1 and len(next(iter(listed))) > 2:
        return set()
    need = max(3, math.ceil(REPEAT_SHARE * len(sample)))
    return {size for size, c in counts.items() if c >= need}


def page_images(image_info: list[dict], page_rect: Rect4) -> list[RasterImage]:
    """Embedded images placed on the page, clipped to it (one entry per placement)."""
    out = []
    for info in image_info:
        b = info["bbox"]
        box = (max(b[0], page_rect[0]), max(b[1], page_rect[1]), min(b[2], page_rect[2]), min(b[3], page_rect[3]))
        if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
            continue
        w, h = int(info.get("width", 0)), int(info.get("height", 0))
        out.append(RasterImage(box, info.get("xref", 0), w * h, w, h))
    return out


def page_drawings(page: pymupdf.Page) -> list[dict]:
    """The page's drawings as `get_drawings()` gives them, each with "clipped": its box cut to the clip path in
    force and to the page. A chart's lines often run far past the plot they are clipped to (a forecast divider
    drawn from y=-540): their raw boxes would swallow the pictures around the chart into one figure."""
    # The plain call first: on pathological nesting it raises, where the extended one aborts the process.
    drawings = page.get_drawings()
    page_rect = page.rect
    if not any(_outside(d["rect"], page_rect) for d in drawings):
        for d in drawings:
            d["clipped"] = tuple(_cut(pymupdf.Rect(d["rect"]), page_rect))
        return drawings
    out: list[dict] = []
    clips: dict[int, pymupdf.Rect] = {}  # clip level -> scissor, the stack of clips in force
    for d in page.get_drawings(extended=True):
        level = d.get("level", 0)
        for k in [k for k in clips if k >= level]:
            del clips[k]
        kind = d.get("type")
        if kind == "clip":
            clips[level] = pymupdf.Rect(d["scissor"])
            continue
        if kind == "group":
            continue
        box = pymupdf.Rect(d["rect"])
        for scissor in clips.values():
            box = _cut(box, scissor)
        d["clipped"] = tuple(_cut(box, page_rect))
        out.append(d)
    return out


def _outside(box: pymupdf.Rect, page: pymupdf.Rect, tol: float = 1.0) -> bool:
    return box.x0 < page.x0 - tol or box.y0 < page.y0 - tol or box.x1 > page.x1 + tol or box.y1 > page.y1 + tol


def _cut(box: pymupdf.Rect, clip: pymupdf.Rect) -> pymupdf.Rect:
    """box within clip; a line (no width or height) keeps its zero extent where a Rect intersection would drop it."""
    return pymupdf.Rect(max(box.x0, clip.x0), max(box.y0, clip.y0), min(box.x1, clip.x1), min(box.y1, clip.y1))


def _is_background(d: dict, page_area: float) -> bool:
    rect = d.get("clipped", d["rect"])
    if _area(tuple(rect)) >= 0.8 * page_area:
        return True
    fill = d.get("fill")
    white = fill is not None and all(c > 0.97 for c in fill)
    return white and d.get("color") is None


def vector_regions(
    drawings: list[dict], page_rect: Rect4, exclude: list[Rect4], lines: list[Line], blocks: list[Block],
    skip_lines: set[int],
) -> list[Rect4]:
    """Clusters of drawings outside tables, grown to take in the short text lines (labels, legends) around them.

    exclude: table regions; skip_lines: ids of lines never to absorb (captions).
    """
    page_area = _area(page_rect)
    rects = []
    for d in drawings:
        r = tuple(d.get("clipped", d["rect"]))
        if r[2] < r[0] or r[3] < r[1]:  # wholly outside its clip or the page: never painted
            continue
        if _is_background(d, page_area) or any(_inside(r, t, 3) for t in exclude):
            continue
        rects.append(r)
    if not rects:
        return []
    clusters = [c for c in merge_rects(rects, CLUSTER_GAP) if c[2] - c[0] > 4 and c[3] - c[1] > 4]
    grown = _absorb_labels(clusters, lines, blocks, skip_lines)
    out = [c for c in grown if not _is_text_box(c, blocks)]
    return _merge_facing(merge_rects(out, 2.0), LEGEND_GAP)


def _distance(a: Rect4, b: Rect4) -> float:
    dx = max(0.0, b[0] - a[2], a[0] - b[2])
    dy = max(0.0, b[1] - a[3], a[1] - b[3])
    return max(dx, dy)


def _absorb_labels(regions: list[Rect4], lines: list[Line], blocks: list[Block], skip: set[int]) -> list[Rect4]:
    """Grow each region by the label lines nearest to it (a line joins one region only)."""
    regions = list(regions)
    candidates = [
        ln for ln in lines
        if id(ln) not in skip and not blocks[ln.block].heading
    ]
    taken: set[int] = set()
    for _ in range(3):
        changed = False
        for ln in candidates:
            if id(ln) in taken:
                continue
            short = len(ln.text) <= 60 and not _is_prose(blocks[ln.block])
            best, best_d = -1, LABEL_GAP if short else -1.0
            for i, r in enumerate(regions):
                d = 0.0 if _center_in(ln.bbox, r) else _distance(ln.bbox, r)
                if d <= best_d and (best < 0 or d < best_d):
                    best, best_d = i, d
            if best >= 0:
                regions[best] = union([regions[best], ln.bbox])
                taken.add(id(ln))
                changed = True
        if not changed:
            break
    return regions


def _merge_facing(rects: list[Rect4], gap: float) -> list[Rect4]:
    """Merge side-by-side regions within gap of each other that share most of their height (chart + legend)."""
    def facing(a: Rect4, b: Rect4) -> bool:
        if not _near(a, b, gap):
            return False
        ov_y = min(a[3], b[3]) - max(a[1], b[1])
        return ov_y >= 0.5 * min(a[3] - a[1], b[3] - b[1])

    out = list(rects)
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                if facing(out[i], out[j]):
                    out[i] = union([out[i], out[j]])
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return out


def _is_prose(block: Block) -> bool:
    """Part of a paragraph, not a label or legend entry: a sentence-like line, or several lines of real text."""
    if any(len(ln.text.split()) >= 7 for ln in block.lines):
        return True
    return len(block.lines) >= 2 and sum(len(ln.text) for ln in block.lines) > 90


def _is_text_box(region: Rect4, blocks: list[Block]) -> bool:
    """A frame or shading behind prose (a call-out box) rather than a chart."""
    prose = sum(len(b.text) for b in blocks if len(b.lines) >= 3 and _inside(b.bbox, region, 3))
    return prose > 250


def text_in(region: Rect4, lines: list[Line]) -> list[Line]:
    return [ln for ln in lines if _center_in(ln.bbox, region)]


def keep_figure(box: Rect4, min_area: float, min_side: float) -> bool:
    return _area(box) >= min_area and min(box[2] - box[0], box[3] - box[1]) >= min_side
