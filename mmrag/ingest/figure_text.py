"""A figure in words for the text channel: the heading above it, the prose around it, and a chart's labels split
into axis and legend fields (tick runs folded into ranges), so that a question can find a picture by what the page
says about it, not only by the text drawn inside it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mmrag.ingest.blocks import Block, Rect4

TITLE_GAP = 24.0  # a short line this close above a figure titles it, heading or not
AROUND_GAP = 36.0  # prose farther than this from a figure is not about it
MIN_TICKS = 3  # a figure with this many numeric labels is a chart: its labels become axis and legend fields
LEGEND_WORDS = 6  # a chart label of at most this many words (and LEGEND_CHARS) is a legend or series name
LEGEND_CHARS = 50
MAX_TICK_CHARS = 12  # longer runs of digits are labels read without their spaces, not one tick

_NUMBER = re.compile(r"^[-−–+(]?[$€£¥]?\s?\d[\d,.]*\s?(?:%|[kKmMbB]n?|bn)?\)?$")
_MONTH = re.compile(
    r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:[-\s'’]?\d{2,4})?$"
    r"|^(?:q[1-4]|[1-4]q)[-\s'’]?\d{0,4}$|^(?:fy|h[12])[-\s'’]?\d{2,4}$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class FigureContext:
    """What the page says about a figure: the heading in force right above it and the prose next to it."""

    heading: str = ""
    around: str = ""


@dataclass
class ChartLabels:
    """A chart's own text sorted by role: tick labels folded into ranges, series names, and the rest."""

    axis: list[str] = field(default_factory=list)  # "2009–2025", "0–12", "October–March"
    legend: list[str] = field(default_factory=list)  # "Permian", "Eagle Ford", "forecast"
    other: list[str] = field(default_factory=list)  # titles, units, notes and sources, in their order


def _x_overlap(a: Rect4, b: Rect4) -> float:
    return min(a[2], b[2]) - max(a[0], b[0])


def _y_overlap(a: Rect4, b: Rect4) -> float:
    return min(a[3], b[3]) - max(a[1], b[1])


def figure_context(
    box: Rect4, blocks: list[Block], skip: set[int], max_chars: int, others: list[Rect4] = ()
) -> FigureContext:
    """The heading and the prose around a figure on its page.

    blocks: the page's blocks (headings marked); skip: ids of lines that belong to a figure, a table or a caption;
    max_chars: the most characters of surrounding prose kept (split between the text above, beside and below);
    others: the page's other figures and tables: a heading above one of them that sits over this figure is theirs.
    """
    free = [Block([ln for ln in b.lines if id(ln) not in skip], heading=b.heading) for b in blocks]
    free = [b for b in free if b.lines]
    ceiling = max((o[3] for o in others if o[3] <= box[1] + 4 and _x_overlap(o, box) > 0), default=float("-inf"))
    above = [b for b in free if ceiling <= b.bbox[1] and b.bbox[3] <= box[1] + 4 and _x_overlap(b.bbox, box) > 0]
    heading = max((b for b in above if b.heading), key=lambda b: b.bbox[3], default=None)
    title = max((b for b in above if _is_title(b, box) and box[1] - b.bbox[3] <= TITLE_GAP),
                key=lambda b: b.bbox[3], default=None)
    if title is not None and (heading is None or title.bbox[3] > heading.bbox[3]):
        heading = title
    # prose: the nearest paragraph above (below the heading), beside and below (before the next heading)
    floor = heading.bbox[3] if heading is not None else float("-inf")
    prose = [b for b in free if not b.heading and b is not heading]
    near_above = [b for b in prose if b in above and b.bbox[1] >= floor and box[1] - b.bbox[3] <= AROUND_GAP]
    below = [b for b in free if b.bbox[1] >= box[3] - 4 and _x_overlap(b.bbox, box) > 0]
    next_heading = min((b.bbox[1] for b in below if b.heading), default=float("inf"))
    near_below = [b for b in below if not b.heading and b.bbox[1] < next_heading and b.bbox[1] - box[3] <= AROUND_GAP]
    beside = [b for b in prose if _y_overlap(b.bbox, box) > 0.5 * (b.bbox[3] - b.bbox[1])
              and _x_overlap(b.bbox, box) <= 0 and -_x_overlap(b.bbox, box) <= AROUND_GAP]
    parts: list[str] = []
    budget = max_chars // 3
    if near_above:
        parts.append(_tail(max(near_above, key=lambda b: b.bbox[3]).text, budget))
    if beside:
        parts.append(_head(" ".join(b.text for b in sorted(beside, key=lambda b: (b.bbox[1], b.bbox[0]))), budget))
    if near_below:
        parts.append(_head(min(near_below, key=lambda b: b.bbox[1]).text, budget))
    around = " ".join(p for p in parts if p) if max_chars > 0 else ""
    return FigureContext(heading.text if heading is not None else "", around)


def _is_title(b: Block, box: Rect4) -> bool:
    """A short line or two within the figure's width that names it rather than says something about it (a date
    or a running title off to one side of the page is not the figure's)."""
    text = b.text
    inside = b.bbox[0] >= box[0] - TITLE_GAP / 2 and b.bbox[2] <= box[2] + TITLE_GAP / 2
    return inside and len(b.lines) <= 2 and 3 <= len(text) <= 120 and not text.rstrip().endswith((".", ",", ";", ":"))


def _head(text: str, limit: int) -> str:
    """The first sentences of text, up to limit characters (a cut sentence ends at a word)."""
    if len(text) <= limit:
        return text
    ends = [m.start() for m in _SENTENCE_END.finditer(text) if m.start() <= limit]
    if ends and ends[-1] >= limit // 3:
        return text[: ends[-1]]
    return text[: text.rfind(" ", 0, limit) if " " in text[:limit] else limit]


def _tail(text: str, limit: int) -> str:
    """The last sentences of text, up to limit characters."""
    if len(text) <= limit:
        return text
    starts = [m.end() for m in _SENTENCE_END.finditer(text) if len(text) - m.end() <= limit]
    if starts and len(text) - starts[0] >= limit // 3:
        return text[starts[0]:]
    cut = text.find(" ", len(text) - limit)
    return text[cut + 1 :] if cut >= 0 else text[-limit:]


def is_tick(text: str) -> bool:
    """A tick or data label: a number, a percentage, an amount, a year, a month or a quarter."""
    t = text.strip()
    return 0 < len(t) <= MAX_TICK_CHARS and (bool(_NUMBER.match(t)) or bool(_MONTH.match(t)))


def _value(t: str) -> float | None:
    digits = re.sub(r"[^\d.\-−]", "", t.replace(",", "")).replace("−", "-")
    try:
        return float(digits)
    except ValueError:
        return None


def chart_labels(texts: list[str]) -> ChartLabels | None:
    """A chart's text lines sorted into axis ranges, legend entries and the rest; None when it is no chart
    (fewer than MIN_TICKS numeric labels: a diagram or a photo keeps its text as it is)."""
    tokens = [(line, line.split()) for line in texts]
    ticks: list[str] = []
    rest: list[str] = []
    for line, words in tokens:
        if words and all(is_tick(w) for w in words) or is_tick(line):
            ticks += words if not is_tick(line) else [line.strip()]
        else:
            rest.append(line.strip())
    numeric = [t for t in ticks if _NUMBER.match(t)]
    if len(numeric) < MIN_TICKS:
        return None
    out = ChartLabels(axis=_ranges(ticks))
    for line in dict.fromkeys(r for r in rest if r):
        short = len(line) <= LEGEND_CHARS and len(line.split()) <= LEGEND_WORDS
        (out.legend if short else out.other).append(line)
    return out


def _ranges(ticks: list[str]) -> list[str]:
    """Tick labels as ranges: years, other numbers (percentages apart) and named periods, each low–high."""
    years = [t for t in ticks if re.fullmatch(r"(?:19|20)\d\d", t)]
    percents = [t for t in ticks if t.endswith("%") and t not in years]
    values = [t for t in ticks if _NUMBER.match(t) and t not in years and t not in percents]
    periods = list(dict.fromkeys(t for t in ticks if not _NUMBER.match(t)))
    out = []
    for group in (years, values, percents):
        # first seen first among equal values ("1" and "1,"): a set's order changes with the hash seed
        known = sorted(dict.fromkeys(t for t in group if _value(t) is not None), key=lambda t: _value(t) or 0.0)
        if len(known) == 1:
            out.append(known[0])
        elif known:
            out.append(f"{known[0]}–{known[-1]}")
    if len(periods) > 2:
        out.append(f"{periods[0]}–{periods[-1]}")
    else:
        out += periods
    return out


def figure_text(own: list[str], context: FigureContext | None, labels: ChartLabels | None) -> str:
    """The figure's searchable text: its heading, its own text (a chart's sorted into fields), the prose around."""
    lines = [context.heading] if context is not None and context.heading else []
    if labels is None:
        lines += own
    else:
        lines += labels.other
        if labels.legend:
            lines.append("; ".join(labels.legend))
        if labels.axis:
            lines.append("; ".join(labels.axis))
    if context is not None and context.around:
        lines.append(context.around)
    return "\n".join(line for line in lines if line)
