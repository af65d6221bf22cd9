"""Reading order of a page's blocks: top to bottom, column by column where two columns sit side by side."""

from __future__ import annotations

from mmrag.ingest.blocks import Block, Rect4

GUTTER = 6.0  # a block crossing the page centre by more than this spans both columns


def reading_order(blocks: list[Block], page_width: float) -> list[Block]:
    """Blocks in reading order; sets Block.column (0 spanning or single column, 1 left, 2 right)."""
    if not blocks:
        return []
    mid = page_width / 2
    box = {id(b): b.bbox for b in blocks}  # Block.bbox is a union over its lines: computed once here
    for b in blocks:
        x0, _, x1, _ = box[id(b)]
        b.column = 1 if x1 <= mid + GUTTER else 2 if x0 >= mid - GUTTER else 0
    left = [box[id(b)] for b in blocks if b.column == 1]
    right = [box[id(b)] for b in blocks if b.column == 2]
    if not (left and right and _side_by_side(left, right)):
        for b in blocks:
            b.column = 0
        return sorted(blocks, key=lambda b: (round(box[id(b)][1]), box[id(b)][0]))
    spanning = sorted((b for b in blocks if b.column == 0), key=lambda b: box[id(b)][1])
    out: list[Block] = []
    top = float("-inf")
    for sep in [*spanning, None]:
        bottom = box[id(sep)][1] if sep is not None else float("inf")
        band = [b for b in blocks if b.column and top <= box[id(b)][1] < bottom]
        out += sorted(band, key=lambda b: (b.column, box[id(b)][1], box[id(b)][0]))
        if sep is not None:
            out.append(sep)
            top = box[id(sep)][1]
    return out


def _side_by_side(left: list[Rect4], right: list[Rect4]) -> bool:
    """Whether some left-column box and some right-column box share vertical extent."""
    for a in left:
        for b in right:
            overlap = min(a[3], b[3]) - max(a[1], b[1])
            if overlap > 0.5 * min(a[3] - a[1], b[3] - b[1], 12):
                return True
    return False
