"""Build the mmrag sample corpus: five small PDFs with known layout, plus truth.json and questions.jsonl.

Run ``python sample_corpus/make_corpus.py`` to regenerate everything in this folder. The output is deterministic:
fixed PDF metadata, no unseeded randomness, reproducible saves. The script knows where every figure, table,
caption, header and footer is, and writes that to ``truth.json``; ``questions.jsonl`` holds eval questions whose
answers live in the text, the tables, the vector or raster charts, the figures or the page layout.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pymupdf  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

PAGE_W, PAGE_H = 612.0, 792.0
MARGIN = 54.0
GAP = 18.0
COL_W = (PAGE_W - 2 * MARGIN - GAP) / 2
TOP = 66.0
BOTTOM = 742.0
BODY = 9.5
LEADING = 1.32
FOOTER_PATTERN = r"^Page \d+ of \d+$"
PDF_DATE = "D:20240601120000Z"
FONT_PATH = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
FONT_BOLD_PATH = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"

Color = tuple[float, float, float]
BLACK: Color = (0, 0, 0)
GREY: Color = (0.35, 0.35, 0.35)
LIGHT: Color = (0.88, 0.88, 0.88)
PALETTE: list[Color] = [
    (0.12, 0.40, 0.67),
    (0.90, 0.49, 0.13),
    (0.22, 0.60, 0.30),
    (0.78, 0.20, 0.22),
    (0.55, 0.42, 0.70),
    (0.55, 0.55, 0.55),
]
HEX = ["#1f66ab", "#e57d21", "#38994d", "#c73338", "#8c6bb3", "#8c8c8c"]


_FONTS: dict[str, pymupdf.Font] = {}
FONT_ALIAS = {"helv": "Fhelv", "hebo": "Fhebo", "heit": "Fheit"}


def font_obj(name: str) -> pymupdf.Font:
    """MuPDF's built-in Nimbus Sans (metric-compatible with Helvetica), embedded so that any Unicode text works."""
    if name not in _FONTS:
        _FONTS[name] = pymupdf.Font(name)
    return _FONTS[name]


_ADVANCE: dict[tuple[str, str], float] = {}


def text_length(text: str, fontname: str = "helv", fontsize: float = 11.0) -> float:
    """Width of text in points (cached glyph advances; the fonts have no kerning in this use)."""
    total = 0.0
    for ch in text:
        key = (fontname, ch)
        if key not in _ADVANCE:
            _ADVANCE[key] = font_obj(fontname).glyph_advance(ord(ch))
        total += _ADVANCE[key]
    return total * fontsize


def new_page(doc: pymupdf.Document) -> pymupdf.Page:
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    for name, alias in FONT_ALIAS.items():
        page.insert_font(fontname=alias, fontbuffer=font_obj(name).buffer)
    return page


def put(
    page: pymupdf.Page,
    point: tuple[float, float] | pymupdf.Point,
    text: str,
    fontname: str = "helv",
    fontsize: float = 11.0,
    color: Color = BLACK,
    rotate: int = 0,
) -> None:
    page.insert_text(point, text, fontname=FONT_ALIAS[fontname], fontsize=fontsize, color=color, rotate=rotate)


# --------------------------------------------------------------------------------------------------------------------
# text layout helpers
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class Col:
    """A text column: horizontal extent and the current y cursor (top of the next line box)."""

    x0: float
    x1: float
    y: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0


def two_cols(y: float) -> tuple[Col, Col]:
    return Col(MARGIN, MARGIN + COL_W, y), Col(MARGIN + COL_W + GAP, PAGE_W - MARGIN, y)


def full_col(y: float) -> Col:
    return Col(MARGIN, PAGE_W - MARGIN, y)


def wrap(text: str, width: float, size: float, font: str = "helv") -> list[str]:
    lines: list[str] = []
    cur = ""
    for word in text.split():
        cand = f"{cur} {word}" if cur else word
        if text_length(cand, fontname=font, fontsize=size) <= width:
            cur = cand
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    return lines


def write_lines(
    page: pymupdf.Page, col: Col, text: str, size: float, font: str = "helv", color: Color = BLACK, after: float = 0.0
) -> None:
    for line in wrap(text, col.width, size, font):
        put(page, (col.x0, col.y + size), line, fontname=font, fontsize=size, color=color)
        col.y += size * LEADING
    col.y += after
    if col.y > BOTTOM + 1:
        raise ValueError(f"text overflows the page bottom on page {page.number + 1}: {text[:40]!r}")


def para(page: pymupdf.Page, col: Col, text: str) -> None:
    write_lines(page, col, text, BODY, after=5)


def heading(page: pymupdf.Page, col: Col, text: str, size: float = 12.0) -> None:
    col.y += 3
    write_lines(page, col, text, size, font="hebo", after=3)


def centered(
    page: pymupdf.Page, x_mid: float, y_base: float, text: str, size: float, font: str = "helv", color: Color = BLACK
) -> None:
    w = text_length(text, fontname=font, fontsize=size)
    put(page, (x_mid - w / 2, y_base), text, fontname=font, fontsize=size, color=color)


def right(
    page: pymupdf.Page, x_right: float, y_base: float, text: str, size: float, font: str = "helv", color: Color = BLACK
) -> None:
    w = text_length(text, fontname=font, fontsize=size)
    put(page, (x_right - w, y_base), text, fontname=font, fontsize=size, color=color)


def caption_at(page: pymupdf.Page, x0: float, x1: float, y: float, text: str) -> float:
    """Write a caption whose first line box starts at y; return the y below it."""
    col = Col(x0, x1, y)
    write_lines(page, col, text, 9.0, font="heit", color=(0.1, 0.1, 0.1))
    return col.y


# --------------------------------------------------------------------------------------------------------------------
# vector charts
# --------------------------------------------------------------------------------------------------------------------


def _axes(
    page: pymupdf.Page,
    rect: pymupdf.Rect,
    ymin: float,
    ymax: float,
    ticks: Sequence[float],
    tick_fmt: str,
    ylabel: str,
    xlabel: str,
) -> tuple[pymupdf.Rect, Callable[[float], float]]:
    plot = pymupdf.Rect(rect.x0 + 50, rect.y0 + 14, rect.x1 - 12, rect.y1 - 34)

    def ymap(v: float) -> float:
        return plot.y1 - (v - ymin) / (ymax - ymin) * plot.height

    page.draw_line((plot.x0, plot.y0), (plot.x0, plot.y1), color=BLACK, width=0.8)
    page.draw_line((plot.x0, plot.y1), (plot.x1, plot.y1), color=BLACK, width=0.8)
    for t in ticks:
        y = ymap(t)
        page.draw_line((plot.x0 - 3, y), (plot.x0, y), color=BLACK, width=0.6)
        right(page, plot.x0 - 5, y + 2.8, tick_fmt.format(t), 7.5, color=GREY)
    # rotated y-axis label, reading bottom to top
    size = 8.5
    w = text_length(ylabel, fontname="helv", fontsize=size)
    put(page, (rect.x0 + 11, (plot.y0 + plot.y1) / 2 + w / 2), ylabel, fontname="helv", fontsize=size, rotate=90)
    centered(page, (plot.x0 + plot.x1) / 2, rect.y1 - 4, xlabel, size)
    return plot, ymap


def vector_bar_chart(
    page: pymupdf.Page,
    rect: pymupdf.Rect,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    ymax: float,
    ticks: Sequence[float],
    ylabel: str,
    xlabel: str,
    fmt: str = "{:.1f}",
    color: Color = PALETTE[0],
) -> None:
    plot, ymap = _axes(page, rect, 0.0, ymax, ticks, "{:g}", ylabel, xlabel)
    slot = plot.width / len(values)
    for i, (lab, v) in enumerate(zip(labels, values)):
        cx = plot.x0 + slot * (i + 0.5)
        bar = pymupdf.Rect(cx - slot * 0.3, ymap(v), cx + slot * 0.3, plot.y1)
        shape = page.new_shape()
        shape.draw_rect(bar)
        shape.finish(color=None, fill=color)
        shape.commit()
        centered(page, cx, bar.y0 - 3, fmt.format(v), 8.5, font="hebo")
        centered(page, cx, plot.y1 + 11, lab, 8)


def _point_label(page: pymupdf.Page, pts: Sequence[pymupdf.Point], i: int, text: str, color: Color) -> None:
    """Label a data point where its line segments are not: above a peak, below a trough (and below a first point
    that rises), above-left of a rise and above-right of a fall (y grows downwards)."""
    p = pts[i]
    up_left = i > 0 and pts[i - 1].y < p.y  # previous point is higher
    up_right = i + 1 < len(pts) and pts[i + 1].y < p.y  # next point is higher
    if (up_left and up_right) or (i == 0 and up_right):
        centered(page, p.x, p.y + 11, text, 7.5, font="hebo", color=color)
    elif not up_left and not up_right:
        centered(page, p.x, p.y - 5, text, 7.5, font="hebo", color=color)
    elif up_right:
        right(page, p.x - 3, p.y - 4, text, 7.5, font="hebo", color=color)
    else:
        put(page, (p.x + 3, p.y - 4), text, fontname="hebo", fontsize=7.5, color=color)


def vector_line_chart(
    page: pymupdf.Page,
    rect: pymupdf.Rect,
    xlabels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    ymin: float,
    ymax: float,
    ticks: Sequence[float],
    ylabel: str,
    xlabel: str,
    fmt: str = "{:.1f}",
    label_points: Sequence[int] | None = None,
    legend_bottom: bool = False,
) -> None:
    plot, ymap = _axes(page, rect, ymin, ymax, ticks, "{:g}", ylabel, xlabel)
    n = len(xlabels)
    step = (plot.width - 30) / (n - 1)

    def xmap(i: int) -> float:
        return plot.x0 + 15 + step * i

    if ymin < 0 < ymax:
        page.draw_line((plot.x0, ymap(0)), (plot.x1, ymap(0)), color=LIGHT, width=0.6)
    for i, lab in enumerate(xlabels):
        page.draw_line((xmap(i), plot.y1), (xmap(i), plot.y1 + 3), color=BLACK, width=0.6)
        centered(page, xmap(i), plot.y1 + 11, lab, 8)
    idx = list(range(n)) if label_points is None else list(label_points)
    for s, (_name, vals) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        pts = [pymupdf.Point(xmap(i), ymap(v)) for i, v in enumerate(vals)]
        shape = page.new_shape()
        shape.draw_polyline(pts)
        shape.finish(color=color, width=1.6, closePath=False)
        for p in pts:
            shape.draw_circle(p, 2.2)
        shape.finish(color=color, fill=color, width=0.5)
        shape.commit()
        for i in idx:
            _point_label(page, pts, i, fmt.format(vals[i]), color)
    if len(series) > 1:
        lx, ly = plot.x1 - 118, plot.y0 + 4
        if legend_bottom:
            lx, ly = plot.x0 + 12, plot.y1 - 11 * len(series) - 4
        for s, (name, _) in enumerate(series):
            y = ly + s * 11
            page.draw_line((lx, y + 4), (lx + 14, y + 4), color=PALETTE[s % len(PALETTE)], width=2)
            put(page, (lx + 18, y + 7), name, fontname="helv", fontsize=8)


def vector_pie(
    page: pymupdf.Page, rect: pymupdf.Rect, labels: Sequence[str], values: Sequence[float], unit: str = "%"
) -> None:
    r = min(rect.height / 2 - 6, rect.width / 4)
    c = pymupdf.Point(rect.x0 + r + 12, (rect.y0 + rect.y1) / 2)
    total = float(sum(values))
    start = -90.0
    for i, v in enumerate(values):
        sweep = 360.0 * v / total
        steps = max(2, int(sweep / 4))
        pts = (
            [c]
            + [
                pymupdf.Point(
                    c.x + r * math.cos(math.radians(start + sweep * k / steps)),
                    c.y + r * math.sin(math.radians(start + sweep * k / steps)),
                )
                for k in range(steps + 1)
            ]
            + [c]
        )
        shape = page.new_shape()
        shape.draw_polyline(pts)
        shape.finish(color=(1, 1, 1), fill=PALETTE[i % len(PALETTE)], width=0.8, closePath=True)
        shape.commit()
        start += sweep
    lx = c.x + r + 30
    ly = rect.y0 + (rect.height - 16 * len(values)) / 2
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = ly + 16 * i
        shape = page.new_shape()
        shape.draw_rect(pymupdf.Rect(lx, y, lx + 10, y + 10))
        shape.finish(color=None, fill=PALETTE[i % len(PALETTE)])
        shape.commit()
        put(page, (lx + 16, y + 8.5), f"{lab}: {v:g}{unit}", fontname="helv", fontsize=9.5)


# --------------------------------------------------------------------------------------------------------------------
# raster images
# --------------------------------------------------------------------------------------------------------------------


def _mpl_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=144, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _mpl_fig(rect: pymupdf.Rect) -> tuple[Any, Any]:
    plt.rcParams.update({"font.family": "DejaVu Sans", "svg.hashsalt": "mmrag"})
    fig, ax = plt.subplots(figsize=(rect.width / 72, rect.height / 72), dpi=144)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def raster_bar_chart(
    rect: pymupdf.Rect,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    ylabel: str,
    xlabel: str,
    fmt: str,
    color: str = HEX[1],
    ymax: float | None = None,
) -> bytes:
    fig, ax = _mpl_fig(rect)
    bars = ax.bar(list(labels), list(values), color=color, width=0.62)
    for b, v in zip(bars, values):
        ax.text(
            b.get_x() + b.get_width() / 2,
            b.get_height(),
            fmt.format(v),
            ha="center",
            va="bottom",
            fontsize=12,
            fontweight="bold",
        )
    ax.set_ylim(0, ymax if ymax is not None else max(values) * 1.18)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.tick_params(labelsize=9.5)
    fig.tight_layout(pad=0.6)
    return _mpl_png(fig)


def raster_line_chart(
    rect: pymupdf.Rect,
    xlabels: Sequence[str],
    values: Sequence[float],
    *,
    ylabel: str,
    xlabel: str,
    fmt: str,
    ylim: tuple[float, float],
    color: str = HEX[0],
) -> bytes:
    fig, ax = _mpl_fig(rect)
    xs = list(range(len(values)))
    ax.plot(xs, list(values), color=color, marker="o", linewidth=2)
    for x, v in zip(xs, values):
        ax.annotate(
            fmt.format(v),
            (x, v),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=11.5,
            fontweight="bold",
        )
    ax.set_xticks(xs, list(xlabels))
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.tick_params(labelsize=9.5)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout(pad=0.6)
    return _mpl_png(fig)


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_BOLD_PATH if bold else FONT_PATH), size)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=78, optimize=True)
    return buf.getvalue()


def logo_png(letter: str, rgb: tuple[int, int, int]) -> bytes:
    img = Image.new("RGB", (96, 96), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.ellipse((4, 4, 92, 92), fill=rgb)
    d.text((48, 50), letter, fill=(255, 255, 255), font=_font(52, bold=True), anchor="mm")
    return _png(img)


def solar_photo(w: int, h: int) -> bytes:
    """A photo-like aerial view of a solar array (seeded noise), with a painted block sign."""
    rng = np.random.default_rng(2024)
    yy = np.linspace(0, 1, h)[:, None]
    ground = np.stack([150 + 40 * yy, 130 + 30 * yy, 90 + 20 * yy], axis=-1) * np.ones((h, w, 1))
    ground += rng.normal(0, 9, size=(h, w, 1))
    img = Image.fromarray(np.clip(ground, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for row in range(7):
        y0 = 28 + row * 58
        for k in range(9):
            x0 = 22 + k * 104
            d.polygon(
                [(x0, y0 + 30), (x0 + 18, y0), (x0 + 100, y0), (x0 + 82, y0 + 30)],
                fill=(28, 48, 92),
                outline=(170, 180, 200),
            )
            for g in range(1, 4):
                gx = x0 + g * 20
                d.line([(gx, y0 + 30), (gx + 18, y0)], fill=(60, 80, 130), width=1)
    d.rectangle((w - 300, h - 118, w - 40, h - 38), fill=(235, 235, 228), outline=(40, 40, 40), width=3)
    d.text((w - 170, h - 78), "BLOCK C-14", fill=(20, 20, 20), font=_font(34, bold=True), anchor="mm")
    return _jpeg(img)


def process_flow_png(w: int, h: int) -> bytes:
    """A block diagram of an inline inspection flow (not a chart)."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    steps = ["Lithography", "Etch", "Deposition", "CMP", "E-test", "Yield Analysis"]
    bw, bh = 128, 64
    gap = (w - 40 - bw * len(steps)) / (len(steps) - 1)
    y0 = 60
    font = _font(17, bold=True)
    centers = []
    for i, s in enumerate(steps):
        x0 = 20 + i * (bw + gap)
        d.rounded_rectangle(
            (x0, y0, x0 + bw, y0 + bh), radius=10, fill=(219, 233, 247), outline=(31, 102, 171), width=3
        )
        d.text(
            (x0 + bw / 2, y0 + bh / 2),
            s if len(s) < 12 else "Yield\nAnalysis",
            fill=(10, 30, 60),
            font=font,
            anchor="mm",
            align="center",
        )
        centers.append((x0, x0 + bw))
        if i:
            ax0, ax1 = centers[i - 1][1] + 4, x0 - 4
            d.line([(ax0, y0 + bh / 2), (ax1, y0 + bh / 2)], fill=(40, 40, 40), width=3)
            d.polygon([(ax1, y0 + bh / 2), (ax1 - 10, y0 + bh / 2 - 6), (ax1 - 10, y0 + bh / 2 + 6)], fill=(40, 40, 40))
    # inspection station below Etch and CMP, with dashed feedback to Lithography
    ix0, ix1 = centers[1][0], centers[3][1]
    iy0 = y0 + bh + 70
    d.rounded_rectangle((ix0, iy0, ix1, iy0 + 56), radius=10, fill=(253, 236, 217), outline=(229, 125, 33), width=3)
    d.text(
        ((ix0 + ix1) / 2, iy0 + 28),
        "Optical Inspection (every 5th wafer)",
        fill=(80, 40, 0),
        font=_font(17),
        anchor="mm",
    )
    for cx in ((centers[1][0] + centers[1][1]) / 2, (centers[3][0] + centers[3][1]) / 2):
        for yy in range(int(y0 + bh + 4), int(iy0 - 4), 10):
            d.line([(cx, yy), (cx, yy + 5)], fill=(229, 125, 33), width=3)
    d.text(
        (w / 2, h - 18),
        "defect maps fed back to Lithography within 24 h",
        fill=(90, 90, 90),
        font=_font(15),
        anchor="mm",
    )
    return _png(img)


# --------------------------------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------------------------------


def draw_table(
    page: pymupdf.Page,
    x0: float,
    y0: float,
    widths: Sequence[float],
    rows: Sequence[Sequence[str]],
    row_h: float = 16.0,
    size: float = 8.5,
) -> pymupdf.Rect:
    """Draw a ruled grid with a bold, shaded header row; return the table body rect."""
    xs = [x0]
    for w in widths:
        xs.append(xs[-1] + w)
    ys = [y0 + row_h * i for i in range(len(rows) + 1)]
    shape = page.new_shape()
    shape.draw_rect(pymupdf.Rect(xs[0], ys[0], xs[-1], ys[1]))
    shape.finish(color=None, fill=(0.90, 0.93, 0.97))
    shape.commit()
    for y in ys:
        page.draw_line((xs[0], y), (xs[-1], y), color=BLACK, width=0.6)
    for x in xs:
        page.draw_line((x, ys[0]), (x, ys[-1]), color=BLACK, width=0.6)
    for r, row in enumerate(rows):
        font = "hebo" if r == 0 else "helv"
        base = ys[r] + row_h / 2 + size * 0.35
        for c, cell in enumerate(row):
            if c == 0:
                put(page, (xs[c] + 4, base), cell, fontname=font, fontsize=size)
            else:
                right(page, xs[c + 1] - 4, base, cell, size, font=font)
    return pymupdf.Rect(xs[0], ys[0], xs[-1], ys[-1])


# --------------------------------------------------------------------------------------------------------------------
# document builder
# --------------------------------------------------------------------------------------------------------------------


def r4(rect: pymupdf.Rect) -> list[float]:
    return [round(v, 2) for v in (rect.x0, rect.y0, rect.x1, rect.y1)]


@dataclass
class DocBuilder:
    name: str
    title: str
    header: str
    footer_left: str
    n_pages: int
    doc: pymupdf.Document = field(default_factory=pymupdf.open)
    scanned: list[int] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    logos: list[dict[str, Any]] = field(default_factory=list)

    def page(self) -> pymupdf.Page:
        return new_page(self.doc)

    def stamp(self, page: pymupdf.Page, pno: int) -> None:
        put(page, (MARGIN, 40), self.header, fontname="helv", fontsize=8.5, color=GREY)
        page.draw_line((MARGIN, 46), (PAGE_W - MARGIN, 46), color=GREY, width=0.5)
        page.draw_line((MARGIN, 754), (PAGE_W - MARGIN, 754), color=GREY, width=0.5)
        put(page, (MARGIN, 768), self.footer_left, fontname="helv", fontsize=8, color=GREY)
        right(page, PAGE_W - MARGIN, 768, f"Page {pno} of {self.n_pages}", 8, color=GREY)

    def title_block(self, page: pymupdf.Page, subtitle: str, logo: bytes) -> float:
        logo_rect = pymupdf.Rect(MARGIN, 60, MARGIN + 24, 84)
        page.insert_image(logo_rect, stream=logo)
        self.logos.append({"page": page.number + 1, "bbox": r4(logo_rect)})
        put(page, (MARGIN + 32, 78), self.footer_left, fontname="hebo", fontsize=10, color=GREY)
        col = full_col(96)
        write_lines(page, col, self.title, 20, font="hebo", after=2)
        write_lines(page, col, subtitle, 10.5, font="heit", color=GREY, after=6)
        page.draw_line((MARGIN, col.y), (PAGE_W - MARGIN, col.y), color=BLACK, width=1)
        return col.y + 10

    def figure(
        self,
        page: pymupdf.Page,
        rect: pymupdf.Rect,
        kind: str,
        caption: str,
        position: str,
        *,
        chart: bool = True,
        draw: Callable[[pymupdf.Rect], None] | None = None,
        png: bytes | None = None,
    ) -> float:
        """Place a figure with its caption, the figure body starting at rect.y0 when the caption is below and
        the caption starting at rect.y0 when it is above; return the y below the whole block."""
        body = pymupdf.Rect(rect)
        if position == "above":
            y = caption_at(page, body.x0, body.x1, rect.y0, caption) + 4
            body = pymupdf.Rect(body.x0, y, body.x1, y + rect.height)
        if draw is not None:
            draw(body)
        if png is not None:
            page.insert_image(body, stream=png)
        end = body.y1 + 6
        if position == "below":
            end = caption_at(page, body.x0, body.x1, body.y1 + 6, caption)
        self.figures.append(
            {
                "page": page.number + 1,
                "bbox": r4(body),
                "type": kind,
                "chart": chart,
                "caption": caption,
                "caption_position": position,
            }
        )
        return end + 8

    def table(
        self,
        page: pymupdf.Page,
        x0: float,
        y0: float,
        widths: Sequence[float],
        rows: Sequence[Sequence[str]],
        caption: str,
        position: str,
        *,
        continued: bool = False,
        row_h: float = 16.0,
    ) -> float:
        width = sum(widths)
        y = y0
        if position == "above":
            y = caption_at(page, x0, x0 + width, y0, caption) + 3
        rect = draw_table(page, x0, y, widths, rows, row_h=row_h)
        end = rect.y1 + 6
        if position == "below":
            end = caption_at(page, x0, x0 + width, rect.y1 + 5, caption)
        self.tables.append(
            {
                "page": page.number + 1,
                "bbox": r4(rect),
                "caption": caption,
                "caption_position": position,
                "header": list(rows[0]),
                "n_rows": len(rows),
                "n_cols": len(widths),
                "continued": continued,
            }
        )
        return end + 8

    def scanned_page(self, compose: Callable[[pymupdf.Page], None]) -> pymupdf.Page:
        """Compose a page in a scratch document, render it to greyscale pixels and insert those as a full-page
        image on an otherwise empty page: a scan without a text layer."""
        pno = self.doc.page_count + 1
        scratch = pymupdf.open()
        sp = new_page(scratch)
        self.stamp(sp, pno)
        compose(sp)
        pix = sp.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
        png = pix.tobytes("png")
        scratch.close()
        page = self.page()
        page.insert_image(page.rect, stream=png)
        self.scanned.append(pno)
        return page

    def save(self, out_dir: Path) -> dict[str, Any]:
        if self.doc.page_count != self.n_pages:
            raise ValueError(f"{self.name}: planned {self.n_pages} pages, built {self.doc.page_count}")
        for i, page in enumerate(self.doc):
            if i + 1 not in self.scanned:
                self.stamp(page, i + 1)
        self.doc.set_metadata(
            {
                "title": self.title,
                "author": self.footer_left,
                "subject": self.header,
                "keywords": "mmrag sample",
                "creator": "mmrag sample_corpus/make_corpus.py",
                "producer": "PyMuPDF",
                "creationDate": PDF_DATE,
                "modDate": PDF_DATE,
                "trapped": "",
                "format": "",
                "encryption": None,
            }
        )
        self.doc.subset_fonts()
        self.doc.save(
            out_dir / self.name,
            garbage=4,
            deflate=True,
            deflate_images=True,
            deflate_fonts=True,
            no_new_id=True,
            reproducible=True,
        )
        self.doc.close()
        return {
            "title": self.title,
            "pages": self.n_pages,
            "scanned_pages": self.scanned,
            "header_text": self.header,
            "footer_text": self.footer_left,
            "footer_pattern": FOOTER_PATTERN,
            "logos": self.logos,
            "figures": self.figures,
            "tables": self.tables,
        }


# --------------------------------------------------------------------------------------------------------------------
# document 1: solar outlook (vector bar + line charts, raster line chart, photo, two tables)
# --------------------------------------------------------------------------------------------------------------------

SOLAR_REGIONS = ["Southwest", "Pacific", "Plains", "Southeast", "Northeast"]
SOLAR_CAPACITY = [14.2, 11.8, 8.9, 7.6, 6.1]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SOLAR_MONTHLY = [2.9, 3.4, 4.6, 5.5, 6.3, 6.9, 7.1, 6.8, 5.7, 4.5, 3.3, 2.7]
SOLAR_YEARS = ["2018", "2019", "2020", "2021", "2022", "2023"]
SOLAR_UTILITY = [1.42, 1.31, 1.18, 1.09, 1.12, 1.03]
SOLAR_RESIDENTIAL = [3.05, 2.91, 2.78, 2.69, 2.74, 2.62]


def build_solar() -> DocBuilder:
    b = DocBuilder(
        "solar_outlook_2024.pdf",
        "Regional Solar Outlook 2024",
        "Helios Energy Institute | Regional Solar Outlook 2024",
        "Helios Energy Institute",
        6,
    )
    # page 1
    p = b.page()
    y = b.title_block(
        p,
        "Installed capacity, generation, costs and project pipeline across five grid regions. "
        "Lead author: Dr. Maren Okafor.",
        logo_png("H", (229, 125, 33)),
    )
    left, rt = two_cols(y)
    heading(p, left, "Executive Summary")
    para(
        p,
        left,
        "Solar capacity across the five regions tracked by the Helios Energy Institute reached 48.6 GW at "
        "the end of 2023, up 17 percent from 41.5 GW a year earlier. Growth was concentrated in the Southwest, "
        "where large single-axis tracker plants continued to dominate new construction.",
    )
    para(
        p,
        left,
        "Total solar generation in 2023 was 64.7 TWh, roughly 11.3 percent of all electricity consumed in "
        "the study area. The fleet-wide average capacity factor was 21.4 percent, slightly below the 21.9 percent "
        "recorded in 2022 because of an unusually cloudy spring in the Pacific region.",
    )
    para(
        p,
        left,
        "Interconnection queues remain the main constraint. At the end of the year 212 GW of solar and "
        "hybrid projects were waiting for grid studies, with a median wait of 41 months from request to "
        "commercial operation.",
    )
    heading(p, rt, "Key Findings")
    para(
        p,
        rt,
        "The largest plant completed during the period was Sunfield Mesa, a 1,150 MW project in the "
        "Southwest region that also hosts a 2,300 MWh battery. It became the largest single solar site in the "
        "institute's records when it entered service in October 2023.",
    )
    para(
        p,
        rt,
        "Utility-scale system costs fell again in 2023 after a one-year increase driven by module and "
        "freight prices in 2022. Residential costs declined more slowly, reflecting higher customer acquisition "
        "and permitting expenses.",
    )
    para(
        p,
        rt,
        "Community solar programmes added 1.9 GW, led by the Northeast, where new virtual net metering "
        "rules took effect in March 2023. The institute expects community projects to keep growing faster than "
        "rooftop installations through 2026.",
    )
    para(
        p,
        rt,
        "This outlook is the ninth edition of the series. Data were collected from 37 utilities, 5 grid "
        "operators and the state energy offices of the study area between January and April 2024.",
    )
    # page 2
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "1  Installed Capacity by Region")
    para(
        p,
        c,
        "Installed capacity grew in every region during 2023. The Southwest alone added 2.7 GW, while the "
        "Plains region overtook the Southeast for the first time thanks to several wind-solar hybrid plants.",
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 20, c.y + 4, PAGE_W - MARGIN - 20, c.y + 234),
        "vector",
        "Figure 1: Installed solar capacity by region at year-end 2023 (GW).",
        "below",
        draw=lambda r: vector_bar_chart(
            p,
            r,
            SOLAR_REGIONS,
            SOLAR_CAPACITY,
            ymax=16,
            ticks=[0, 4, 8, 12, 16],
            ylabel="Capacity (GW)",
            xlabel="Grid region",
        ),
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Regional shares shifted only slightly. The Southwest held 29 percent of the total, the Pacific "
        "24 percent and the Plains 18 percent. The Northeast remains the smallest region, but its share of "
        "distributed systems is the highest of all five.",
    )
    para(
        p,
        left,
        "Utility-scale plants accounted for 71 percent of capacity additions, distributed rooftop systems "
        "for 23 percent and community solar for the remaining 6 percent.",
    )
    para(
        p,
        rt,
        "Retirements were negligible: only 38 MW of early thin-film plants were decommissioned, most of them "
        "in the Pacific region. Repowering of older sites with bifacial modules is expected to add about 0.4 GW "
        "without new land use.",
    )
    para(p, rt, "Tracker adoption rose to 84 percent of new utility-scale capacity, compared with 77 percent in 2022.")
    # page 3
    p = b.page()
    left, rt = two_cols(TOP)
    heading(p, left, "2  Monthly Generation")
    para(
        p,
        left,
        "Generation followed the usual seasonal pattern, with output in midsummer more than twice the "
        "winter level. Curtailment during spring afternoons reached 3.8 percent of potential output in the "
        "Pacific region, the highest figure recorded so far.",
    )
    para(
        p,
        rt,
        "Storage paired with solar shifted an estimated 2.1 TWh from midday into the evening peak. Battery "
        "dispatch was most valuable in August, when evening prices were highest.",
    )
    y = max(left.y, rt.y) + 4
    png = raster_line_chart(
        pymupdf.Rect(0, 0, 504, 220),
        MONTHS,
        SOLAR_MONTHLY,
        ylabel="Generation (TWh)",
        xlabel="Month of 2023",
        fmt="{:.1f}",
        ylim=(0, 8.4),
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN, y, PAGE_W - MARGIN, y + 220),
        "raster",
        "Fig. 2. Monthly solar generation, all five regions combined, 2023 (TWh).",
        "above",
        png=png,
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Output in the darkest month was limited by both shorter days and snow cover on northern plants. "
        "The Plains region lost an estimated 140 GWh to snow in February alone.",
    )
    para(
        p,
        left,
        "Weather-normalised generation, which removes the effect of the cloudy spring, would have been "
        "about 1.2 TWh higher for the year.",
    )
    para(
        p,
        rt,
        "Forecast errors for day-ahead solar output fell to 4.6 percent mean absolute error, helped by new "
        "satellite nowcasting services adopted by three of the five grid operators.",
    )
    # page 4
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "3  Largest Projects")
    para(
        p,
        c,
        "Large projects continued to grow in size. Eight plants of more than 400 MW were commissioned "
        "between 2021 and 2023, and four of them include battery storage on the same site.",
    )
    rows = [
        ["Project", "Region", "Capacity (MW)", "Storage (MWh)", "Online"],
        ["Sunfield Mesa", "Southwest", "1,150", "2,300", "2023"],
        ["Copper Basin", "Southwest", "820", "1,000", "2022"],
        ["Harlan Flats", "Plains", "690", "0", "2023"],
        ["Redwood Gate", "Pacific", "615", "1,240", "2021"],
        ["Palmetto Ridge", "Southeast", "540", "300", "2022"],
        ["Cedar Bluff", "Plains", "505", "0", "2021"],
        ["Owens Dry Lake", "Pacific", "470", "940", "2023"],
        ["Kettle Pond", "Northeast", "412", "0", "2022"],
    ]
    y = b.table(
        p,
        MARGIN + 40,
        c.y + 4,
        [130, 90, 80, 80, 64],
        rows,
        "Table 1 – Largest solar projects commissioned 2021–2023.",
        "above",
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Project sizes reflect land availability and transmission access. The three Southwest and Pacific "
        "projects with storage were built on retired farmland close to existing 500 kV corridors.",
    )
    para(
        p,
        left,
        "Developers reported average construction times of 19 months for plants above 400 MW, down from "
        "24 months in the previous outlook.",
    )
    para(
        p,
        rt,
        "Kettle Pond is the largest plant ever built in the Northeast and the first in the region to use "
        "bifacial modules on single-axis trackers. It serves two municipal utilities under a 25-year contract.",
    )
    # page 5
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "4  System Costs")
    para(
        p,
        c,
        "Installed costs are reported in 2023 dollars per watt of direct-current capacity. Utility-scale "
        "costs resumed their decline in 2023, while residential costs eased only slightly.",
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 20, c.y + 4, PAGE_W - MARGIN - 20, c.y + 214),
        "vector",
        "Figure 3: Installed system cost for utility-scale and residential solar, 2018–2023 ($/W).",
        "below",
        draw=lambda r: vector_line_chart(
            p,
            r,
            SOLAR_YEARS,
            [("Utility-scale", SOLAR_UTILITY), ("Residential", SOLAR_RESIDENTIAL)],
            ymin=0,
            ymax=3.5,
            ticks=[0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5],
            ylabel="Installed cost ($/W)",
            xlabel="Year",
            fmt="{:.2f}",
        ),
    )
    photo = solar_photo(960, 440)
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 72, y, MARGIN + 72 + 360, y + 165),
        "raster",
        "Figure 4: Aerial photograph of the Sunfield Mesa array in the Southwest region.",
        "below",
        chart=False,
        png=photo,
    )
    left, rt = two_cols(y)
    para(p, left, "Module prices fell to 0.21 $/W by the end of 2023, the lowest level yet recorded.")
    para(p, rt, "Soft costs now make up 64 percent of a residential system.")
    # page 6
    p = b.page()
    left, rt = two_cols(TOP)
    heading(p, left, "5  Outlook 2024–2026")
    para(
        p,
        left,
        "The institute expects 31.5 GW of new capacity across the study area over the next three years. "
        "The forecast assumes that current tax credits remain in place and that two new transmission lines in "
        "the Southwest are energised in 2025.",
    )
    para(
        p,
        rt,
        "Downside risks include trade measures on modules and slower interconnection reform. Under the "
        "low case, additions would fall to 22.0 GW over the same period.",
    )
    y = max(left.y, rt.y) + 6
    rows = [
        ["Region", "2024", "2025", "2026", "Total"],
        ["Southwest", "3.6", "4.1", "4.4", "12.1"],
        ["Pacific", "2.2", "2.5", "2.6", "7.3"],
        ["Plains", "1.4", "1.8", "2.2", "5.4"],
        ["Southeast", "1.3", "1.5", "1.7", "4.5"],
        ["Northeast", "0.6", "0.7", "0.9", "2.2"],
    ]
    y = b.table(
        p,
        MARGIN + 80,
        y,
        [120, 70, 70, 70, 70],
        rows,
        "Table 2: Forecast capacity additions by region, base case (GW).",
        "below",
    )
    left, rt = two_cols(y + 4)
    heading(p, left, "6  Conclusions")
    para(
        p,
        left,
        "Solar has become the largest source of new generating capacity in all five regions. Keeping that "
        "pace will depend on transmission and faster grid studies more than on equipment costs.",
    )
    para(
        p, rt, "The next edition of the outlook will be published in June 2025 and will add a chapter on agrivoltaics."
    )
    return b


# --------------------------------------------------------------------------------------------------------------------
# document 2: clinical trial (tables incl. one over two pages, vector line chart, raster bar chart)
# --------------------------------------------------------------------------------------------------------------------

ARMS = ["Placebo", "10 mg", "20 mg", "40 mg"]
LDL_WEEKS = ["0", "4", "8", "12", "24"]
LDL_CHANGE = {
    "Placebo": [0.0, -1.8, -2.4, -2.9, -3.1],
    "10 mg": [0.0, -21.5, -27.9, -31.2, -30.4],
    "20 mg": [0.0, -29.7, -36.8, -40.5, -39.8],
    "40 mg": [0.0, -36.2, -45.1, -48.7, -47.9],
}
LDL_TARGET = [4, 38, 57, 71]
ADVERSE_EVENTS = [
    ["Adverse event", "Placebo", "10 mg", "20 mg", "40 mg"],
    ["Headache", "9", "11", "12", "14"],
    ["Nasopharyngitis", "8", "7", "9", "10"],
    ["Myalgia", "3", "5", "6", "9"],
    ["Nausea", "4", "6", "5", "8"],
    ["Dizziness", "5", "4", "6", "7"],
    ["Fatigue", "6", "5", "7", "6"],
    ["Back pain", "7", "6", "5", "6"],
    ["Diarrhea", "3", "4", "6", "5"],
    ["Arthralgia", "4", "3", "5", "5"],
    ["Upper respiratory infection", "6", "5", "4", "6"],
    ["Rash", "1", "2", "3", "4"],
    ["Insomnia", "2", "3", "2", "3"],
    ["Constipation", "2", "1", "3", "4"],
    ["Hypertension", "3", "2", "2", "3"],
    ["Cough", "4", "3", "2", "2"],
    ["Dyspepsia", "1", "2", "4", "3"],
    ["Muscle spasms", "1", "2", "3", "5"],
    ["Urinary tract infection", "2", "3", "1", "2"],
    ["Peripheral edema", "2", "1", "2", "3"],
    ["Abdominal pain", "3", "2", "2", "2"],
    ["Pain in extremity", "1", "3", "2", "4"],
    ["Sinusitis", "2", "2", "3", "1"],
    ["Bronchitis", "1", "2", "1", "3"],
    ["Influenza", "3", "2", "2", "1"],
    ["ALT > 3x ULN", "0", "1", "1", "3"],
    ["CK > 5x ULN", "0", "0", "1", "2"],
]


def build_trial() -> DocBuilder:
    b = DocBuilder(
        "veltra2_trial_summary.pdf",
        "VELTRA-2: Veltrazine in Primary Hypercholesterolemia",
        "VELTRA-2 Phase II Clinical Study Report - Summary",
        "Corvane Therapeutics",
        6,
    )
    # page 1
    p = b.page()
    y = b.title_block(
        p,
        "A randomised, double-blind, placebo-controlled, dose-ranging phase II study of oral "
        "veltrazine. Principal investigator: Dr. Ilse Brandvold.",
        logo_png("C", (56, 153, 77)),
    )
    left, rt = two_cols(y)
    heading(p, left, "Synopsis")
    para(
        p,
        left,
        "VELTRA-2 enrolled 412 adults with primary hypercholesterolemia at 38 sites in 6 countries between "
        "February 2022 and August 2023. Patients were randomised 1:1:1:1 to placebo or veltrazine 10 mg, 20 mg or "
        "40 mg once daily for 24 weeks, on top of stable statin therapy.",
    )
    para(
        p,
        left,
        "The primary endpoint was the percent change in low-density lipoprotein cholesterol (LDL-C) from "
        "baseline to week 12. Secondary endpoints included other lipid parameters, the proportion of patients "
        "reaching LDL-C below 70 mg/dL and safety.",
    )
    heading(p, rt, "Main Results")
    para(
        p,
        rt,
        "All three doses met the primary endpoint (p < 0.001 versus placebo). The effect was largely in "
        "place by week 8 and was maintained to week 24. The 40 mg dose was selected for the phase III programme, "
        "VELTRA-3, which started enrolment in May 2024.",
    )
    para(
        p,
        rt,
        "Veltrazine was generally well tolerated. Discontinuations because of adverse events were 2.9 "
        "percent on placebo and 4.8 percent on the 40 mg dose. No deaths occurred during the study.",
    )
    para(p, rt, "The independent data monitoring committee was chaired by Prof. Aurelio Santangelo and met four times.")
    # page 2
    p = b.page()
    left, rt = two_cols(TOP)
    heading(p, left, "1  Study Population")
    para(
        p,
        left,
        "Of 655 patients screened, 412 were randomised and 389 completed 24 weeks of treatment. The most "
        "common reason for screen failure was an LDL-C value below the entry threshold of 100 mg/dL.",
    )
    para(
        p,
        rt,
        "Baseline characteristics were balanced across arms. Most patients were taking a high-intensity "
        "statin, and 22 percent also received ezetimibe.",
    )
    y = max(left.y, rt.y) + 6
    rows = [
        ["Characteristic", *ARMS],
        ["Patients randomised (n)", "103", "102", "104", "103"],
        ["Age, mean (years)", "58.4", "57.9", "59.1", "58.7"],
        ["Female (%)", "44.7", "47.1", "43.3", "45.6"],
        ["BMI, mean (kg/m²)", "29.2", "28.8", "29.5", "29.0"],
        ["Baseline LDL-C (mg/dL)", "148.3", "151.0", "146.9", "149.6"],
        ["Type 2 diabetes (%)", "21.4", "19.6", "23.1", "20.4"],
    ]
    y = b.table(
        p,
        MARGIN + 30,
        y,
        [160, 70, 70, 70, 70],
        rows,
        "Table 1: Baseline demographics and lipid values by treatment arm.",
        "above",
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Mean baseline LDL-C was 149.0 mg/dL overall. Twelve percent of patients had heterozygous "
        "familial hypercholesterolemia confirmed by genetic testing.",
    )
    para(
        p,
        rt,
        "Randomisation was stratified by region and by statin intensity. The largest enrolling site was "
        "in Tartu, Estonia, with 27 patients.",
    )
    # page 3
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "2  Efficacy")
    para(
        p,
        c,
        "LDL-C fell rapidly in all veltrazine arms. The placebo-adjusted reduction at week 12 was 28.3, 37.6 "
        "and 45.8 percentage points for the 10, 20 and 40 mg doses.",
    )
    series = [(arm, LDL_CHANGE[arm]) for arm in ARMS]
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 10, c.y + 4, PAGE_W - MARGIN - 10, c.y + 230),
        "vector",
        "Figure 1: Mean percent change from baseline in LDL-C by treatment arm through week 24.",
        "below",
        draw=lambda r: vector_line_chart(
            p,
            r,
            LDL_WEEKS,
            series,
            ymin=-60,
            ymax=5,
            ticks=[-60, -50, -40, -30, -20, -10, 0],
            ylabel="Change in LDL-C (%)",
            xlabel="Week",
            label_points=[3],
            legend_bottom=True,
        ),
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Reductions in apolipoprotein B and non-HDL cholesterol mirrored the LDL-C results. Triglycerides "
        "fell modestly, and HDL-C rose slightly in all active arms (Table 3).",
    )
    para(
        p,
        rt,
        "Responses were consistent across subgroups defined by age, sex, diabetes status and baseline "
        "LDL-C. Patients on ezetimibe showed slightly smaller relative reductions.",
    )
    # page 4
    p = b.page()
    y = TOP
    png = raster_bar_chart(
        pymupdf.Rect(0, 0, 380, 200),
        ARMS,
        LDL_TARGET,
        ylabel="Patients (%)",
        xlabel="Treatment arm",
        fmt="{:.0f}%",
        color=HEX[2],
        ymax=85,
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 62, y, MARGIN + 62 + 380, y + 200),
        "raster",
        "Fig. 2. Patients reaching LDL-C below 70 mg/dL at week 12, by arm.",
        "above",
        png=png,
    )
    c = full_col(y)
    heading(p, c, "3  Safety")
    para(
        p,
        c,
        "Treatment-emergent adverse events were reported by 51 percent of patients on placebo and by 55 to "
        "61 percent on veltrazine. Most events were mild. Muscle-related events increased with dose; none led to "
        "rhabdomyolysis.",
    )
    caption = "Table 2 – Treatment-emergent adverse events reported in at least 1% of patients (number of patients)."
    widths = [184, 70, 70, 50, 50]
    cap_h = len(wrap(caption, sum(widths), 9.0, "heit")) * 9.0 * LEADING + 3
    split = int((BOTTOM - (c.y + 4) - cap_h) // 16)  # header + data rows that fit above the bottom margin
    b.table(p, MARGIN + 40, c.y + 4, widths, ADVERSE_EVENTS[:split], caption, "above")
    if any(row[0] in {"Bronchitis", "ALT > 3x ULN"} for row in ADVERSE_EVENTS[:split]):
        raise ValueError("the questions expect these adverse events in the continued part of Table 2")
    # page 5
    p = b.page()
    y = b.table(
        p,
        MARGIN + 40,
        TOP,
        [184, 70, 70, 50, 50],
        [ADVERSE_EVENTS[0], *ADVERSE_EVENTS[split:]],
        "Table 2 (continued)",
        "above",
        continued=True,
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Liver enzyme elevations above three times the upper limit of normal were infrequent and resolved "
        "without stopping treatment in all but one patient, who was in the 40 mg arm.",
    )
    para(
        p,
        left,
        "Creatine kinase rises above five times the upper limit of normal occurred in three patients, all "
        "of whom reported strenuous exercise in the preceding days.",
    )
    para(
        p,
        rt,
        "There were 14 serious adverse events in total, none judged related to study drug by the "
        "investigators. The most frequent was atrial fibrillation, with 3 cases.",
    )
    para(
        p,
        rt,
        "Pharmacokinetic sampling in 96 patients showed dose-proportional exposure and a terminal half-life "
        "of 31 hours, supporting once-daily dosing.",
    )
    # page 6
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "4  Secondary Lipid Endpoints")
    rows = [
        ["Endpoint (mean % change)", *ARMS],
        ["Total cholesterol", "-1.9", "-19.4", "-25.2", "-30.8"],
        ["Non-HDL cholesterol", "-2.6", "-27.0", "-35.1", "-42.3"],
        ["Apolipoprotein B", "-2.2", "-23.8", "-31.6", "-38.9"],
        ["Triglycerides", "+1.4", "-8.6", "-11.9", "-14.7"],
        ["HDL-C", "+0.8", "+3.1", "+4.0", "+5.2"],
        ["Lipoprotein(a)", "-0.5", "-6.3", "-9.1", "-12.4"],
    ]
    y = b.table(
        p,
        MARGIN + 30,
        c.y + 4,
        [160, 70, 70, 70, 70],
        rows,
        "Table 3: Secondary lipid endpoints at week 12 by treatment arm.",
        "below",
    )
    left, rt = two_cols(y + 4)
    heading(p, left, "5  Conclusions")
    para(
        p,
        left,
        "Veltrazine lowered LDL-C by up to 48.7 percent at week 12 when added to statins, with a safety "
        "profile that supports further development.",
    )
    para(
        p,
        rt,
        "The phase III programme will enrol about 14,000 patients to test whether the lipid effects translate "
        "into fewer cardiovascular events. Report date: 12 April 2024.",
    )
    return b


# --------------------------------------------------------------------------------------------------------------------
# document 3: transit ridership (vector pie + line chart, raster bar chart, tables, a scanned memo page)
# --------------------------------------------------------------------------------------------------------------------

MODES = ["Bus", "Light rail", "Commuter rail", "Streetcar", "Paratransit"]
MODE_SHARE = [46, 31, 14, 6, 3]
LINES = ["Red Line", "Blue Line", "Gold Line", "Route 12", "Route 40"]
LINE_BOARDINGS = [48200, 39700, 27350, 14900, 9850]
TRANSIT_MONTHLY = [4.52, 4.61, 5.28, 5.12, 5.26, 5.01, 4.88, 5.10, 5.59, 5.67, 5.42, 4.84]


def _memo(page: pymupdf.Page) -> None:
    c = full_col(TOP + 4)
    write_lines(page, c, "Appendix C: Fare Survey Memo", 16, font="hebo", after=8)
    for line in [
        "To: Board of Directors, Metro Valley Transit Authority",
        "From: Office of Planning and Analysis",
        "Date: 14 March 2024",
        "Subject: Results of the autumn 2023 onboard fare survey",
    ]:
        write_lines(page, c, line, 11.5, after=1)
    c.y += 10
    for text in [
        "Survey staff interviewed 2,840 riders on 46 bus routes and all three rail lines between 9 and 27 October "
        "2023. Responses were weighted by route and time of day to match total ridership.",
        "The TapGo smart card is now the dominant way to pay. Cash use has fallen by half since the 2019 survey, "
        "and most cash riders said they would switch if cards were sold at more corner shops.",
        "The most requested improvement was more frequent weekend service, cited by 41 percent of respondents. "
        "Real-time arrival information came second with 27 percent. The average trip length reported by riders "
        "was 7.8 miles.",
    ]:
        write_lines(page, c, text, 11.5, after=8)
    rows = [
        ["Payment method", "Share of riders"],
        ["TapGo card", "62%"],
        ["Mobile app", "24%"],
        ["Cash", "9%"],
        ["Paper ticket", "5%"],
    ]
    rect = draw_table(page, MARGIN + 60, c.y + 6, [220, 140], rows, row_h=22, size=11.5)
    c.y = rect.y1 + 16
    write_lines(
        page, c, "Recommendation: extend the TapGo fare cap to weekly passes from July 2024.", 11.5, font="hebo"
    )


def build_transit() -> DocBuilder:
    b = DocBuilder(
        "transit_ridership_2023.pdf",
        "2023 Ridership Study",
        "Metro Valley Transit Authority - 2023 Ridership Study",
        "Metro Valley Transit Authority",
        6,
    )
    # page 1
    p = b.page()
    y = b.title_block(
        p,
        "Annual boardings, mode share, line and station performance. Study director: Priya Castellanos.",
        logo_png("M", (31, 102, 171)),
    )
    left, rt = two_cols(y)
    heading(p, left, "Summary")
    para(
        p,
        left,
        "Metro Valley Transit carried 61.3 million boardings in 2023, an increase of 9.4 percent over the "
        "56.0 million recorded in 2022. Ridership has now recovered to 87 percent of the 2019 level of 70.5 "
        "million boardings.",
    )
    para(
        p,
        left,
        "The farebox recovery ratio improved to 23.8 percent from 21.1 percent, as fare revenue grew faster "
        "than operating costs.",
    )
    heading(p, rt, "Highlights")
    para(
        p,
        rt,
        "Weekend ridership recovered faster than weekday ridership, reaching 94 percent of pre-pandemic "
        "levels. Commuter rail remains the slowest to recover because of hybrid work.",
    )
    para(
        p,
        rt,
        "The Red Line was again the busiest line, and Union Terminal the busiest station. The new Airport "
        "Plaza station posted the largest growth of any station.",
    )
    para(p, rt, "Service hours increased by 6.2 percent after the operator shortage of 2022 eased.")
    # page 2
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "1  Mode Share")
    para(
        p,
        c,
        "Buses still carry almost half of all trips, but light rail gained two percentage points of share "
        "after the Gold Line extension opened in April 2023.",
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 60, c.y + 4, PAGE_W - MARGIN - 60, c.y + 184),
        "vector",
        "Figure 1: Share of 2023 boardings by mode.",
        "below",
        draw=lambda r: vector_pie(p, r, MODES, MODE_SHARE),
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Paratransit trips grew by 12 percent, the highest rate of any mode, driven by the same-day booking "
        "pilot launched in the eastern service area.",
    )
    para(
        p,
        rt,
        "Streetcar ridership remained flat. The authority is reviewing the downtown loop's 15-minute "
        "headways as part of the 2025 network redesign.",
    )
    # page 3
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "2  Ridership by Line")
    para(
        p,
        c,
        "The five busiest lines carried 58 percent of all weekday boardings. Route 40, the airport express, "
        "entered the top five for the first time.",
    )
    png = raster_bar_chart(
        pymupdf.Rect(0, 0, 460, 230),
        LINES,
        LINE_BOARDINGS,
        ylabel="Weekday boardings",
        xlabel="Line",
        fmt="{:,.0f}",
        color=HEX[3],
        ymax=56000,
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 22, c.y + 4, MARGIN + 22 + 460, c.y + 234),
        "raster",
        "Figure 2: Average weekday boardings on the five busiest lines in 2023.",
        "below",
        png=png,
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Crowding on the Red Line peaked at 128 percent of seated capacity on the morning inbound trip "
        "between Westgate Mall and Civic Center.",
    )
    para(
        p,
        rt,
        "Route 12 Crosstown benefited from new bus lanes on Alvarado Boulevard, which cut average run times by "
        "seven minutes.",
    )
    # page 4
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "3  Station Activity")
    para(
        p,
        c,
        "Station entries are counted by fare gates and platform validators. Table 1 lists the busiest rail "
        "stations by average weekday entries.",
    )
    rows = [
        ["Station", "Line", "Weekday entries", "Change vs 2022 (%)"],
        ["Union Terminal", "Red", "18,420", "+11.2"],
        ["Civic Center", "Red/Blue", "14,975", "+8.7"],
        ["Harbor Point", "Blue", "9,310", "+14.5"],
        ["University Ave", "Gold", "8,845", "+6.1"],
        ["Westgate Mall", "Red", "7,260", "+3.9"],
        ["Riverside Park", "Blue", "6,105", "+9.8"],
        ["Airport Plaza", "Gold", "5,740", "+21.3"],
    ]
    y = b.table(
        p,
        MARGIN + 40,
        c.y + 4,
        [130, 80, 100, 110],
        rows,
        "Table 1: Busiest rail stations by average weekday entries, 2023.",
        "above",
    )
    rows = [
        ["Mode", "On-time (%)", "Average delay (min)"],
        ["Bus", "81.4", "3.6"],
        ["Light rail", "92.7", "1.4"],
        ["Commuter rail", "94.1", "1.1"],
        ["Streetcar", "88.3", "2.2"],
    ]
    y = b.table(p, MARGIN + 90, y + 4, [130, 90, 110], rows, "Table 2 – On-time performance by mode, 2023.", "below")
    left, rt = two_cols(y)
    para(
        p,
        left,
        "A vehicle counts as on time when it departs no more than one minute early or five minutes late "
        "at timed stops.",
    )
    para(p, rt, "Bus reliability suffered from construction detours on Fifth Street during the summer.")
    # page 5: scanned memo
    b.scanned_page(_memo)
    # page 6
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "4  Monthly Trends and Recommendations")
    para(
        p,
        c,
        "Monthly boardings dipped in the summer school holidays and peaked in October, when university terms "
        "and a regional trade fair coincided.",
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 10, c.y + 4, PAGE_W - MARGIN - 10, c.y + 214),
        "vector",
        "Fig. 3. Total monthly boardings in 2023 (millions).",
        "above",
        draw=lambda r: vector_line_chart(
            p,
            r,
            MONTHS,
            [("Boardings", TRANSIT_MONTHLY)],
            ymin=4,
            ymax=6,
            ticks=[4, 4.5, 5, 5.5, 6],
            ylabel="Boardings (millions)",
            xlabel="Month of 2023",
            fmt="{:.2f}",
        ),
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "The study recommends restoring 15-minute weekend frequency on all rail lines, extending the TapGo "
        "fare cap and adding real-time displays at the 40 busiest bus stops.",
    )
    para(
        p,
        rt,
        "Together these measures are projected to add 2.4 million annual boardings by 2025 at a net cost of "
        "$6.8 million a year.",
    )
    return b


# --------------------------------------------------------------------------------------------------------------------
# document 4: semiconductor yield paper (raster diagram, raster Pareto chart, vector line + bar charts, tables)
# --------------------------------------------------------------------------------------------------------------------

DEFECTS = ["Particles", "Bridging", "Via opens", "Collapse", "Residue", "Other"]
DEFECT_SHARE = [34, 22, 17, 11, 9, 7]
YIELD_WEEKS = ["2", "6", "10", "14", "18", "22", "26"]
YIELD_RAMP = [41.3, 48.9, 57.2, 63.8, 70.5, 75.1, 78.6]
ZONES = ["Center", "Middle", "Edge"]
ZONE_YIELD = [84.2, 79.7, 66.3]


def build_finfet() -> DocBuilder:
    b = DocBuilder(
        "finfet_yield_paper.pdf",
        "Accelerating Yield Learning on a 5 nm FinFET Logic Line",
        "Proceedings of the 2024 Symposium on Manufacturing Yield - Paper MY-17",
        "MY-17 Arakawa et al.",
        5,
    )
    # page 1
    p = b.page()
    y = b.title_block(
        p,
        "Kenji Arakawa, Lucía Ferreyra and Tomasz Wielgosz, Norrland Semiconductor, Fab 3",
        logo_png("N", (140, 107, 179)),
    )
    c = full_col(y)
    heading(p, c, "Abstract")
    para(
        p,
        c,
        "We report the yield ramp of a 5 nm FinFET logic process using a 128 Mb SRAM test vehicle. "
        "Combining inline optical inspection on every fifth wafer with electrical test and defect Pareto analysis "
        "reduced the defect density D0 from 0.31 to 0.09 defects per cm² in 26 weeks, and raised die yield from "
        "41.3 percent to 78.6 percent.",
    )
    left, rt = two_cols(c.y + 4)
    heading(p, left, "1  Introduction")
    para(
        p,
        left,
        "Yield learning speed determines the cost of a new process node. At 5 nm, each lot takes about 80 "
        "days to complete, so a learning cycle that waits for final test is too slow.",
    )
    para(
        p,
        left,
        "Earlier work at Fab 3 relied on weekly engineering reviews of end-of-line yield. Here we shorten "
        "the loop by feeding inline defect maps back to lithography within 24 hours.",
    )
    para(
        p,
        rt,
        "The contributions of this paper are a sampling plan that balances inspection cost and detection "
        "rate, a layer-by-layer defect density budget and a wafer-zone analysis of residual yield loss.",
    )
    para(
        p,
        rt,
        "Section 2 describes the test vehicle and methods, Section 3 the defect Pareto, Section 4 the yield "
        "ramp, and Section 5 discusses the results.",
    )
    # page 2
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "2  Test Structures and Methods")
    para(
        p,
        c,
        "The test vehicle is a full-reticle chip with SRAM arrays, ring oscillators and via chains. Figure 1 "
        "shows the inspection flow used for every lot in the study.",
    )
    png = process_flow_png(1008, 300)
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN, c.y + 4, PAGE_W - MARGIN, c.y + 154),
        "raster",
        "Figure 1: Inline inspection and yield analysis flow used for the test vehicle.",
        "below",
        chart=False,
        png=png,
    )
    rows = [
        ["Parameter", "Value"],
        ["Technology node", "5 nm FinFET"],
        ["Die size (mm²)", "88"],
        ["SRAM capacity (Mb)", "128"],
        ["Metal layers", "15"],
        ["Wafers sampled", "1,240"],
        ["Inspection sampling", "1 in 5 wafers"],
    ]
    y = b.table(p, MARGIN + 130, y + 2, [150, 100], rows, "Table 1: Test vehicle characteristics.", "above")
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Electrical test used a 512-site probe card. Failing bits were mapped to physical locations and "
        "overlaid on inline defect maps with a 0.5 micrometre capture radius.",
    )
    para(
        p,
        rt,
        "A defect was classified as a killer when it overlapped a failing bit in at least two consecutive "
        "inspection layers. Classification used an image classifier retrained every two weeks.",
    )
    # page 3
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "3  Defect Pareto Analysis")
    para(
        p,
        c,
        "Particles were the largest source of yield loss throughout the study, followed by metal bridging. "
        "Pattern collapse was confined to the fin and gate layers.",
    )
    png = raster_bar_chart(
        pymupdf.Rect(0, 0, 440, 210),
        DEFECTS,
        DEFECT_SHARE,
        ylabel="Share of yield loss (%)",
        xlabel="Killer defect type",
        fmt="{:.0f}%",
        color=HEX[4],
        ymax=40,
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 32, c.y + 4, MARGIN + 32 + 440, c.y + 214),
        "raster",
        "Fig. 2. Pareto of killer defect types by share of total yield loss.",
        "below",
        png=png,
    )
    rows = [
        ["Layer", "Week 1", "Week 13", "Week 26"],
        ["Fin", "0.062", "0.031", "0.018"],
        ["Gate", "0.071", "0.038", "0.021"],
        ["M0", "0.054", "0.027", "0.016"],
        ["Via0", "0.068", "0.029", "0.019"],
        ["M1", "0.055", "0.025", "0.016"],
        ["Total", "0.310", "0.150", "0.090"],
    ]
    y = b.table(
        p, MARGIN + 92, y, [110, 70, 70, 70], rows, "Table 2 – Defect density by process layer (defects/cm²).", "below"
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "The gate layer had the highest defect density at the start of the ramp. A change of the gate "
        "etch chamber seasoning recipe in week 5 removed most of the residue defects.",
    )
    para(p, rt, "Particle counts fell after the replacement of a robot end effector in the M1 cluster tool in week 9.")
    # page 4
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "4  Yield Ramp")
    para(p, c, "Die yield rose steadily over the study period as the defect density budget was met layer by layer.")
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 30, c.y + 4, PAGE_W - MARGIN - 30, c.y + 204),
        "vector",
        "Figure 3: Die yield of the SRAM test vehicle over the 26-week ramp.",
        "above",
        draw=lambda r: vector_line_chart(
            p,
            r,
            YIELD_WEEKS,
            [("Die yield", YIELD_RAMP)],
            ymin=30,
            ymax=90,
            ticks=[30, 40, 50, 60, 70, 80, 90],
            ylabel="Die yield (%)",
            xlabel="Week of ramp",
            fmt="{:.1f}",
        ),
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "The largest weekly gain, 2.1 points, followed the end effector replacement. After week 22, "
        "improvements slowed as edge-related losses dominated.",
    )
    para(p, rt, "Yield at week 26 still varied strongly across the wafer, as the zone breakdown in Fig. 4 shows.")
    y = max(left.y, rt.y) + 4
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 110, y, MARGIN + 110 + 284, y + 170),
        "vector",
        "Fig. 4. Die yield by radial wafer zone at week 26 (%).",
        "below",
        draw=lambda r: vector_bar_chart(
            p,
            r,
            ZONES,
            ZONE_YIELD,
            ymax=100,
            ticks=[0, 25, 50, 75, 100],
            ylabel="Die yield (%)",
            xlabel="Wafer zone",
            color=PALETTE[2],
        ),
    )
    # page 5
    p = b.page()
    left, rt = two_cols(TOP)
    heading(p, left, "5  Discussion")
    para(
        p,
        left,
        "Sampling one wafer in five detected 93 percent of excursions within one lot, at 38 percent of the "
        "inspection cost of full sampling. Going to one in ten would have missed three of the excursions seen.",
    )
    para(
        p,
        left,
        "The remaining edge loss is attributed to film thickness roll-off in the final 4 mm of the wafer. "
        "An edge-exclusion change for the CMP step is being qualified.",
    )
    heading(p, rt, "6  Conclusion")
    para(
        p,
        rt,
        "Fast inline feedback halved the time needed to reach a D0 of 0.1 defects per cm² compared with the "
        "previous node. The method will be applied to the 3 nm pilot line in 2025.",
    )
    heading(p, rt, "References")
    for ref in [
        "[1] H. Okonkwo, 'Yield models for advanced nodes', IEEE TSM, 2021.",
        "[2] L. Ferreyra et al., 'Sampling plans for inline inspection', ASMC, 2022.",
        "[3] P. Lindgren, 'Killer defect classification', J. Micro/Nanopattern., 2023.",
    ]:
        write_lines(p, rt, ref, 8.5, after=3)
    return b


# --------------------------------------------------------------------------------------------------------------------
# document 5: coffee market note (raster line chart, vector bar chart and pie, tables)
# --------------------------------------------------------------------------------------------------------------------

COFFEE_MONTHS = MONTHS[:9]
COFFEE_PRICE = [186.4, 188.9, 183.2, 221.5, 219.8, 226.1, 237.3, 239.6, 248.2]
ORIGINS = ["Brazil", "Vietnam", "Colombia", "Uganda", "Honduras", "Ethiopia"]
EXPORTS = [10.8, 6.2, 3.1, 1.6, 1.4, 1.2]
STOCK_ORIGINS = ["Brazil", "Honduras", "Colombia", "Peru", "Nicaragua", "Other"]
STOCK_SHARE = [38, 21, 14, 11, 9, 7]
STOCKS = [
    ("Jan", 248016, 31420),
    ("Feb", 262754, 44910),
    ("Mar", 281330, 38205),
    ("Apr", 512870, 52760),
    ("May", 610455, 61300),
    ("Jun", 778962, 47115),
    ("Jul", 851304, 29880),
    ("Aug", 836117, 24650),
    ("Sep", 815690, 33075),
]


def build_coffee() -> DocBuilder:
    b = DocBuilder(
        "arabica_market_note_q3_2024.pdf",
        "Arabica Coffee Market Note, Q3 2024",
        "Kestrel Commodities Research - Arabica Coffee Market Note Q3 2024",
        "Kestrel Commodities Research",
        5,
    )
    # page 1
    p = b.page()
    y = b.title_block(
        p,
        "Prices, exports, certified stocks and the 2024/25 balance. Analyst: Tobias Lindqvist.",
        logo_png("K", (199, 51, 56)),
    )
    left, rt = two_cols(y)
    heading(p, left, "Key Points")
    para(
        p,
        left,
        "The ICE arabica front-month contract averaged 241.7 US cents per pound in the third quarter of "
        "2024, the highest quarterly average since 2011. Dry weather in Minas Gerais during flowering raised "
        "concern about the 2025 Brazilian crop.",
    )
    para(
        p,
        left,
        "We forecast global production of 176.4 million 60-kg bags in 2024/25, up 3.6 percent, and "
        "consumption of 175.9 million bags, leaving a small surplus.",
    )
    heading(p, rt, "Recommendation")
    para(
        p,
        rt,
        "We keep a neutral view for Q4 2024 with a target range of 225 to 255 US cents per pound. Roasters "
        "should extend hedge cover into the first half of 2025 while the forward curve remains in backwardation.",
    )
    para(
        p,
        rt,
        "The main upside risk is a second dry spell in Brazil in October; the main downside risk is a "
        "faster-than-expected release of certified stocks.",
    )
    # page 2
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "1  Prices")
    para(
        p,
        c,
        "Prices jumped in April when the Brazilian harvest started late, then climbed steadily through the "
        "third quarter as exporters held back sales.",
    )
    png = raster_line_chart(
        pymupdf.Rect(0, 0, 504, 220),
        COFFEE_MONTHS,
        COFFEE_PRICE,
        ylabel="US cents/lb",
        xlabel="Month of 2024",
        fmt="{:.1f}",
        ylim=(160, 270),
        color=HEX[3],
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN, c.y + 4, PAGE_W - MARGIN, c.y + 224),
        "raster",
        "Figure 1: Monthly average of the ICE arabica front-month price, January–September 2024.",
        "below",
        png=png,
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "The spread between arabica and robusta narrowed to 78 US cents per pound in September, its "
        "lowest level in four years, as robusta rallied on Vietnamese crop losses.",
    )
    para(
        p,
        rt,
        "Implied volatility on at-the-money options averaged 34 percent in the quarter, compared with 29 "
        "percent in the second quarter.",
    )
    # page 3
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "2  Exports and Stocks")
    para(p, c, "Exports from the main origins stayed strong despite logistics bottlenecks at the port of Santos.")
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 30, c.y + 4, PAGE_W - MARGIN - 30, c.y + 194),
        "vector",
        "Fig. 2. Green coffee exports by origin in the third quarter of 2024 (million 60-kg bags).",
        "above",
        draw=lambda r: vector_bar_chart(
            p,
            r,
            ORIGINS,
            EXPORTS,
            ymax=12,
            ticks=[0, 3, 6, 9, 12],
            ylabel="Exports (million bags)",
            xlabel="Origin",
            color=PALETTE[3],
        ),
    )
    y = b.figure(
        p,
        pymupdf.Rect(MARGIN + 90, y, PAGE_W - MARGIN - 90, y + 170),
        "vector",
        "Figure 3: Certified arabica stocks by country of origin, end of September 2024.",
        "below",
        draw=lambda r: vector_pie(p, r, STOCK_ORIGINS, STOCK_SHARE),
    )
    left, rt = two_cols(y)
    para(p, left, "Honduran coffee now makes up a fifth of certified stocks after a large grading round in June.")
    para(p, rt, "Brazilian semi-washed coffee became deliverable in 2023 and remains the largest origin.")
    # page 4
    p = b.page()
    c = full_col(TOP)
    heading(p, c, "3  Certified Stocks")
    para(
        p,
        c,
        "Certified stocks more than tripled in the first half of the year before easing slightly in August "
        "and September as merchants withdrew coffee for shipment to roasters.",
    )
    rows: list[list[str]] = [["Month (2024)", "Certified stocks (bags)", "Pending grading (bags)", "Change m/m (%)"]]
    prev = 253180
    for month, stock, pending in STOCKS:
        rows.append([month, f"{stock:,}", f"{pending:,}", f"{(stock - prev) / prev * 100:+.1f}"])
        prev = stock
    y = b.table(
        p,
        MARGIN + 20,
        c.y + 4,
        [100, 130, 130, 104],
        rows,
        "Table 1: ICE certified arabica stocks at month-end, 2024.",
        "above",
    )
    rows = [
        ["Million 60-kg bags", "2023/24", "2024/25f", "Change"],
        ["Production", "170.2", "176.4", "+6.2"],
        ["Consumption", "173.1", "175.9", "+2.8"],
        ["Exports", "128.9", "131.7", "+2.8"],
        ["Ending stocks", "27.6", "28.1", "+0.5"],
    ]
    y = b.table(
        p, MARGIN + 60, y + 6, [150, 90, 90, 80], rows, "Table 2: World coffee supply and demand balance.", "below"
    )
    left, rt = two_cols(y)
    para(
        p,
        left,
        "Ending stocks remain low relative to consumption, at about 16 percent, which keeps the market "
        "sensitive to weather news.",
    )
    para(p, rt, "The balance includes both arabica and robusta; arabica accounts for 56 percent of production.")
    # page 5
    p = b.page()
    left, rt = two_cols(TOP)
    heading(p, left, "4  Outlook")
    para(
        p,
        left,
        "The Brazilian 2025/26 crop will be shaped by rainfall in October and November. Our base case "
        "assumes normal rains and a crop of 68.5 million bags.",
    )
    para(
        p,
        left,
        "Demand growth is led by China and Indonesia, where cafe chains opened more than 9,000 outlets in "
        "the first nine months of 2024.",
    )
    heading(p, rt, "Disclaimer")
    para(
        p,
        rt,
        "This note is for information only and does not constitute investment advice. Kestrel Commodities "
        "Research, Hamburg. Published 7 October 2024.",
    )
    return b


# --------------------------------------------------------------------------------------------------------------------
# questions
# --------------------------------------------------------------------------------------------------------------------

SOLAR = "solar_outlook_2024.pdf"
TRIAL = "veltra2_trial_summary.pdf"
TRANSIT = "transit_ridership_2023.pdf"
FINFET = "finfet_yield_paper.pdf"
COFFEE = "arabica_market_note_q3_2024.pdf"

# (doc, pages, evidence, question, answer)
QUESTIONS: list[tuple[str, list[int], str, str, str]] = [
    # solar
    (
        SOLAR,
        [2],
        "Chart",
        "How many GW of solar capacity were installed in the Plains region at the end of 2023?",
        "8.9",
    ),
    (
        SOLAR,
        [2],
        "Chart",
        "Which grid region had the second-largest installed solar capacity at year-end 2023?",
        "Pacific",
    ),
    (
        SOLAR,
        [3],
        "Chart",
        "How many TWh of solar electricity were generated across the five regions in July 2023?",
        "7.1",
    ),
    (SOLAR, [3], "Chart", "What was the combined solar generation in November 2023, in TWh?", "3.3"),
    (SOLAR, [4], "Table", "What is the battery storage capacity of the Redwood Gate solar project in MWh?", "1,240"),
    (SOLAR, [4], "Table", "In which year did the Owens Dry Lake solar plant come online?", "2023"),
    (SOLAR, [5], "Chart", "What was the installed cost of residential solar in 2021, in dollars per watt?", "2.69"),
    (SOLAR, [5], "Chart", "What did a utility-scale solar system cost per watt in 2022?", "1.12"),
    (
        SOLAR,
        [5],
        "Figure",
        "What block label is painted on the sign in the aerial photo of the Sunfield Mesa array?",
        "BLOCK C-14",
    ),
    (
        SOLAR,
        [6],
        "Table",
        "How many GW of solar additions does the base case forecast for the Plains region in 2025?",
        "1.8",
    ),
    (SOLAR, [1], "Text", "What was the fleet-wide average solar capacity factor in 2023?", "21.4 percent"),
    (SOLAR, [1], "Text", "Who is the lead author of the Regional Solar Outlook 2024?", "Dr. Maren Okafor"),
    (SOLAR, [3], "Text", "What mean absolute error did day-ahead solar output forecasts reach?", "4.6 percent"),
    # clinical trial
    (TRIAL, [2], "Table", "What was the mean baseline LDL-C of patients in the veltrazine 20 mg arm?", "146.9 mg/dL"),
    (TRIAL, [2], "Table", "How many patients were randomised to veltrazine 40 mg in VELTRA-2?", "103"),
    (TRIAL, [3], "Chart", "By how much did LDL-C change from baseline at week 12 on the 20 mg dose?", "-40.5%"),
    (TRIAL, [4], "Chart", "What percentage of patients on 40 mg got their LDL-C under 70 mg/dL by week 12?", "71%"),
    (TRIAL, [4], "Chart", "What proportion of the 10 mg arm reached an LDL-C below 70 mg/dL at week 12?", "38%"),
    (TRIAL, [4], "Table", "How many placebo patients reported headache as an adverse event?", "9"),
    (TRIAL, [5], "Table", "How many patients on veltrazine 40 mg had ALT above 3x the upper limit of normal?", "3"),
    (TRIAL, [5], "Table", "How many patients in the 10 mg arm reported bronchitis?", "2"),
    (
        TRIAL,
        [6],
        "Table",
        "What was the mean percent change in lipoprotein(a) at week 12 with 40 mg veltrazine?",
        "-12.4",
    ),
    (TRIAL, [1], "Text", "At how many sites was VELTRA-2 conducted?", "38"),
    (TRIAL, [5], "Text", "What is the terminal half-life of veltrazine?", "31 hours"),
    (
        TRIAL,
        [1],
        "Text",
        "Who chaired the independent data monitoring committee of VELTRA-2?",
        "Prof. Aurelio Santangelo",
    ),
    (TRIAL, [5], "Layout", "On which page of the VELTRA-2 summary does the adverse event table continue?", "5"),
    # transit
    (TRANSIT, [2], "Chart", "What share of Metro Valley's 2023 boardings was made on light rail?", "31%"),
    (TRANSIT, [2], "Chart", "What percentage of 2023 transit trips were taken by streetcar?", "6%"),
    (TRANSIT, [3], "Chart", "How many average weekday boardings did the Blue Line have in 2023?", "39,700"),
    (TRANSIT, [3], "Chart", "What were the average weekday boardings on Route 40 in 2023?", "9,850"),
    (TRANSIT, [4], "Table", "How many weekday entries does Harbor Point station record on average?", "9,310"),
    (TRANSIT, [4], "Table", "By how much did weekday entries at Airport Plaza change compared with 2022?", "+21.3%"),
    (TRANSIT, [4], "Table", "What was the on-time performance of light rail in 2023?", "92.7%"),
    (TRANSIT, [6], "Chart", "How many million boardings did Metro Valley Transit carry in October 2023?", "5.67"),
    (TRANSIT, [5], "Text", "How many riders were interviewed in the autumn 2023 fare survey?", "2,840"),
    (
        TRANSIT,
        [5],
        "Text",
        "Which service improvement did riders request most often in the fare survey?",
        "More frequent weekend service",
    ),
    (TRANSIT, [5], "Text", "What average trip length did riders report in the fare survey?", "7.8 miles"),
    (TRANSIT, [1], "Text", "What was Metro Valley Transit's farebox recovery ratio in 2023?", "23.8 percent"),
    (TRANSIT, [5], "Layout", "Which page of the 2023 ridership study is a scanned appendix memo?", "5"),
    # finfet
    (FINFET, [2], "Figure", "In the inspection flow diagram, which process step comes right after Deposition?", "CMP"),
    (FINFET, [2], "Table", "How many metal layers does the 5 nm test vehicle have?", "15"),
    (FINFET, [3], "Chart", "What share of yield loss was caused by via opens?", "17%"),
    (FINFET, [3], "Chart", "What percentage of total yield loss came from bridging defects?", "22%"),
    (FINFET, [3], "Table", "What was the defect density of the gate layer in week 13?", "0.038 defects/cm²"),
    (FINFET, [3], "Table", "What defect density did the Via0 layer reach by week 26?", "0.019 defects/cm²"),
    (FINFET, [4], "Chart", "What was the SRAM test vehicle's die yield at week 14 of the ramp?", "63.8%"),
    (FINFET, [4], "Chart", "What die yield did the edge zone of the wafer reach at week 26?", "66.3%"),
    (
        FINFET,
        [3],
        "Layout",
        "Which section follows 'Test Structures and Methods' in the 5 nm FinFET yield paper?",
        "Defect Pareto Analysis",
    ),
    (FINFET, [5], "Text", "What share of excursions did inspecting one wafer in five detect?", "93 percent"),
    # coffee
    (
        COFFEE,
        [2],
        "Chart",
        "What was the monthly average ICE arabica front-month price in April 2024?",
        "221.5 US cents/lb",
    ),
    (COFFEE, [2], "Chart", "What did arabica futures average in August 2024?", "239.6 US cents/lb"),
    (COFFEE, [3], "Chart", "How many million bags of green coffee did Colombia export in Q3 2024?", "3.1"),
    (
        COFFEE,
        [3],
        "Chart",
        "What were Ethiopia's green coffee exports in the third quarter of 2024?",
        "1.2 million bags",
    ),
    (COFFEE, [3], "Chart", "What share of ICE certified arabica stocks originated in Peru?", "11%"),
    (
        COFFEE,
        [4],
        "Table",
        "How many bags of certified arabica stocks did ICE hold at the end of June 2024?",
        "778,962",
    ),
    (COFFEE, [4], "Table", "How many bags were pending grading at the end of May 2024?", "61,300"),
    (COFFEE, [4], "Table", "What is the forecast for world coffee ending stocks in 2024/25?", "28.1 million bags"),
    (COFFEE, [1], "Text", "Which analyst wrote the Q3 2024 arabica market note?", "Tobias Lindqvist"),
    (COFFEE, [2], "Text", "How wide was the arabica-robusta spread in September 2024?", "78 US cents per pound"),
    (
        COFFEE,
        [1, 2, 3, 4, 5],
        "Layout",
        "What organisation is named in the running header of the arabica market note?",
        "Kestrel Commodities Research",
    ),
]


# --------------------------------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------------------------------


def _check_facts() -> None:
    """The prose quotes totals of the chart data; keep them consistent."""
    if round(sum(SOLAR_CAPACITY), 1) != 48.6:
        raise ValueError("solar capacity must total 48.6 GW")
    if round(sum(TRANSIT_MONTHLY), 2) != 61.3:
        raise ValueError("monthly boardings must total 61.3 million")
    if round(sum(COFFEE_PRICE[6:9]) / 3, 1) != 241.7:
        raise ValueError("Q3 arabica average must be 241.7")
    if sum(MODE_SHARE) != 100 or sum(DEFECT_SHARE) != 100 or sum(STOCK_SHARE) != 100:
        raise ValueError("shares must total 100")


def build(out_dir: Path) -> None:
    """Write the PDFs, truth.json and questions.jsonl into out_dir."""
    _check_facts()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    docs: dict[str, Any] = {}
    for make in (build_solar, build_trial, build_transit, build_finfet, build_coffee):
        builder = make()
        docs[builder.name] = builder.save(out_dir)
    (out_dir / "truth.json").write_text(
        json.dumps({"docs": docs}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = []
    for i, (doc, pages, evidence, question, answer) in enumerate(QUESTIONS, start=1):
        if doc not in docs or not all(1 <= p <= docs[doc]["pages"] for p in pages):
            raise ValueError(f"question {i} points outside the corpus")
        lines.append(
            json.dumps(
                {
                    "id": f"q{i}",
                    "question": question,
                    "doc": doc,
                    "pages": pages,
                    "answer": answer,
                    "evidence": [evidence],
                },
                ensure_ascii=False,
            )
        )
    (out_dir / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build(Path(__file__).resolve().parent)
