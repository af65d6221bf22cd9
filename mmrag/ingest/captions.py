"""Captions ("Figure 3:", "Fig. 2.", "Table 1 –") and their link to the nearest figure or table."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmrag.ingest.blocks import Block, Rect4

_CAPTION = re.compile(
    r"^(?P<word>Figure|Fig\.|Fig|Table)\s*(?P<num>[A-Z]?\d+(?:\.\d+)*[a-z]?)\s*(?P<cont>\((?:cont(?:inued|'d|\.)?)\))?"
    r"\s*(?:[:.\-–—]|$)",
    re.IGNORECASE,
)
MAX_GAP = 60.0  # points between a caption and its figure/table


@dataclass
class Caption:
    kind: str  # "figure" | "table"
    label: str  # "Figure 3", "Table 1"
    text: str
    bbox: Rect4
    continued: bool
    block: Block


def find_captions(blocks: list[Block]) -> list[Caption]:
    """Blocks whose first line starts with a figure or table label; the caption is the whole block."""
    out = []
    for blk in blocks:
        m = _CAPTION.match(blk.lines[0].text.strip())
        if not m:
            continue
        table = m["word"].lower() == "table"
        label = f"{'Table' if table else 'Figure'} {m['num']}"
        text = blk.text
        out.append(Caption("table" if table else "figure", label, text, blk.bbox, bool(m["cont"]), blk))
    return out


def _gap(cap: Rect4, box: Rect4) -> float | None:
    """Vertical gap between a caption and a region above or below it, None when they do not line up."""
    overlap = min(cap[2], box[2]) - max(cap[0], box[0])
    if overlap <= 0.2 * min(cap[2] - cap[0], box[2] - box[0]):
        return None
    below = cap[1] - box[3]  # caption under the region
    above = box[1] - cap[3]  # caption over the region
    gap = below if below >= -4 else above if above >= -4 else None
    if gap is None or gap > MAX_GAP:
        return None
    return max(gap, 0.0)


def link_captions(captions: list[Caption], regions: list[tuple[str, Rect4]]) -> dict[int, Caption]:
    """Region index -> its caption: closest pairs first, each caption and region used once, kinds must agree."""
    pairs = []
    for ci, cap in enumerate(captions):
        for ri, (kind, box) in enumerate(regions):
            if kind != cap.kind:
                continue
            gap = _gap(cap.bbox, box)
            if gap is not None:
                pairs.append((gap, ci, ri))
    linked: dict[int, Caption] = {}
    used: set[int] = set()
    for _, ci, ri in sorted(pairs):
        if ci in used or ri in linked:
            continue
        linked[ri] = captions[ci]
        used.add(ci)
    return linked
