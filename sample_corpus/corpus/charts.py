"""Figure bodies for the sample corpus: bar, line and pie charts drawn as vector paths or rendered by matplotlib as
PNGs, pictures made by a function (Pillow), and the logos of the title blocks."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pymupdf  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from .draw import BLACK, GREY, HEX, LIGHT, PALETTE, Color, fill_rect, put, text_length  # noqa: E402

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _axes(
    page: pymupdf.Page, rect: pymupdf.Rect, ymin: float, ymax: float, ticks: Sequence[float], ylabel: str, xlabel: str
) -> tuple[pymupdf.Rect, Callable[[float], float]]:
    plot = pymupdf.Rect(rect.x0 + 50, rect.y0 + 14, rect.x1 - 12, rect.y1 - 34)

    def ymap(v: float) -> float:
        return plot.y1 - (v - ymin) / (ymax - ymin) * plot.height

    page.draw_line((plot.x0, plot.y0), (plot.x0, plot.y1), color=BLACK, width=0.8)
    page.draw_line((plot.x0, plot.y1), (plot.x1, plot.y1), color=BLACK, width=0.8)
    for t in ticks:
        y = ymap(t)
        page.draw_line((plot.x0 - 3, y), (plot.x0, y), color=BLACK, width=0.6)
        put(page, plot.x0 - 5, y + 2.8, f"{t:g}", 7.5, color=GREY, anchor=1)
    # rotated y-axis label, reading bottom to top
    w = text_length(ylabel, "helv", 8.5)
    put(page, rect.x0 + 11, (plot.y0 + plot.y1) / 2 + w / 2, ylabel, 8.5, rotate=90)
    put(page, (plot.x0 + plot.x1) / 2, rect.y1 - 4, xlabel, 8.5, anchor=0.5)
    return plot, ymap


def _mpl_fig(w: float, h: float) -> tuple[Any, Any]:
    plt.rcParams.update({"font.family": "DejaVu Sans", "svg.hashsalt": "mmrag"})
    fig, ax = plt.subplots(figsize=(w / 72, h / 72), dpi=144)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _mpl_png(fig: Any, ax: Any, ylabel: str, xlabel: str, grid: bool = False) -> bytes:
    ax.set_ylabel(ylabel, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.tick_params(labelsize=9.5)
    if grid:
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout(pad=0.6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=144, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


@dataclass
class BarChart:
    """Bars with their values on top; vector paths with y ticks, or a matplotlib PNG when raster."""

    labels: Sequence[str]
    values: Sequence[float]
    ylabel: str
    xlabel: str
    ymax: float
    ticks: Sequence[float] = ()
    fmt: str = "{:.1f}"
    color: int = 0  # PALETTE / HEX index
    raster: bool = False
    chart = True

    def draw(self, page: pymupdf.Page, rect: pymupdf.Rect) -> None:
        plot, ymap = _axes(page, rect, 0.0, self.ymax, self.ticks, self.ylabel, self.xlabel)
        slot = plot.width / len(self.values)
        for i, (lab, v) in enumerate(zip(self.labels, self.values)):
            cx = plot.x0 + slot * (i + 0.5)
            bar = pymupdf.Rect(cx - slot * 0.3, ymap(v), cx + slot * 0.3, plot.y1)
            fill_rect(page, bar, PALETTE[self.color])
            put(page, cx, bar.y0 - 3, self.fmt.format(v), 8.5, "hebo", anchor=0.5)
            put(page, cx, plot.y1 + 11, lab, 8, anchor=0.5)

    def png(self, w: float, h: float) -> bytes:
        fig, ax = _mpl_fig(w, h)
        bars = ax.bar(list(self.labels), list(self.values), color=HEX[self.color], width=0.62)
        for b, v in zip(bars, self.values):
            x = b.get_x() + b.get_width() / 2
            ax.text(x, b.get_height(), self.fmt.format(v), ha="center", va="bottom", fontsize=12, fontweight="bold")
        ax.set_ylim(0, self.ymax)
        return _mpl_png(fig, ax, self.ylabel, self.xlabel)


def _point_label(page: pymupdf.Page, pts: Sequence[pymupdf.Point], i: int, text: str, color: Color) -> None:
    """Label a data point where its line segments are not: above a peak, below a trough (and below a first point
    that rises), above-left of a rise and above-right of a fall (y grows downwards)."""
    p = pts[i]
    up_left = i > 0 and pts[i - 1].y < p.y  # previous point is higher
    up_right = i + 1 < len(pts) and pts[i + 1].y < p.y  # next point is higher
    if (up_left and up_right) or (i == 0 and up_right):
        put(page, p.x, p.y + 11, text, 7.5, "hebo", color, anchor=0.5)
    elif not up_left and not up_right:
        put(page, p.x, p.y - 5, text, 7.5, "hebo", color, anchor=0.5)
    elif up_right:
        put(page, p.x - 3, p.y - 4, text, 7.5, "hebo", color, anchor=1)
    else:
        put(page, p.x + 3, p.y - 4, text, 7.5, "hebo", color)


@dataclass
class LineChart:
    """Named series over x labels with labelled points and a legend; a raster one plots the first series only."""

    xlabels: Sequence[str]
    series: Sequence[tuple[str, Sequence[float]]]
    ylabel: str
    xlabel: str
    ymin: float
    ymax: float
    ticks: Sequence[float] = ()
    fmt: str = "{:.1f}"
    label_points: Sequence[int] | None = None  # default: all
    legend_bottom: bool = False
    color: int = 0
    raster: bool = False
    chart = True

    def draw(self, page: pymupdf.Page, rect: pymupdf.Rect) -> None:
        plot, ymap = _axes(page, rect, self.ymin, self.ymax, self.ticks, self.ylabel, self.xlabel)
        n = len(self.xlabels)
        step = (plot.width - 30) / (n - 1)

        def xmap(i: int) -> float:
            return plot.x0 + 15 + step * i

        if self.ymin < 0 < self.ymax:
            page.draw_line((plot.x0, ymap(0)), (plot.x1, ymap(0)), color=LIGHT, width=0.6)
        for i, lab in enumerate(self.xlabels):
            page.draw_line((xmap(i), plot.y1), (xmap(i), plot.y1 + 3), color=BLACK, width=0.6)
            put(page, xmap(i), plot.y1 + 11, lab, 8, anchor=0.5)
        idx = range(n) if self.label_points is None else self.label_points
        colors = [PALETTE[(self.color + s) % len(PALETTE)] for s in range(len(self.series))]
        for color, (_name, vals) in zip(colors, self.series):
            pts = [pymupdf.Point(xmap(i), ymap(v)) for i, v in enumerate(vals)]
            shape = page.new_shape()
            shape.draw_polyline(pts)
            shape.finish(color=color, width=1.6, closePath=False)
            for p in pts:
                shape.draw_circle(p, 2.2)
            shape.finish(color=color, fill=color, width=0.5)
            shape.commit()
            for i in idx:
                _point_label(page, pts, i, self.fmt.format(vals[i]), color)
        if len(self.series) > 1:
            lx, ly = plot.x1 - 118, plot.y0 + 4
            if self.legend_bottom:
                lx, ly = plot.x0 + 12, plot.y1 - 11 * len(self.series) - 4
            for s, (color, (name, _)) in enumerate(zip(colors, self.series)):
                y = ly + s * 11
                page.draw_line((lx, y + 4), (lx + 14, y + 4), color=color, width=2)
                put(page, lx + 18, y + 7, name, 8)

    def png(self, w: float, h: float) -> bytes:
        fig, ax = _mpl_fig(w, h)
        values = self.series[0][1]
        xs = list(range(len(values)))
        ax.plot(xs, list(values), color=HEX[self.color], marker="o", linewidth=2)
        style = dict(textcoords="offset points", xytext=(0, 7), ha="center", fontsize=11.5, fontweight="bold")
        for x, v in zip(xs, values):
            ax.annotate(self.fmt.format(v), (x, v), **style)
        ax.set_xticks(xs, list(self.xlabels))
        ax.set_ylim(self.ymin, self.ymax)
        return _mpl_png(fig, ax, self.ylabel, self.xlabel, grid=True)


@dataclass
class PieChart:
    """A vector pie from twelve o'clock, clockwise, with a legend of 'label: value unit' on its right."""

    labels: Sequence[str]
    values: Sequence[float]
    unit: str = "%"
    raster = False
    chart = True

    def draw(self, page: pymupdf.Page, rect: pymupdf.Rect) -> None:
        r = min(rect.height / 2 - 6, rect.width / 4)
        c = pymupdf.Point(rect.x0 + r + 12, (rect.y0 + rect.y1) / 2)
        total = float(sum(self.values))
        start = -90.0
        for i, v in enumerate(self.values):
            sweep = 360.0 * v / total
            steps = max(2, int(sweep / 4))
            arc = [math.radians(start + sweep * k / steps) for k in range(steps + 1)]
            pts = [c, *(pymupdf.Point(c.x + r * math.cos(a), c.y + r * math.sin(a)) for a in arc), c]
            shape = page.new_shape()
            shape.draw_polyline(pts)
            shape.finish(color=(1, 1, 1), fill=PALETTE[i % len(PALETTE)], width=0.8, closePath=True)
            shape.commit()
            start += sweep
        lx = c.x + r + 30
        ly = rect.y0 + (rect.height - 16 * len(self.values)) / 2
        for i, (lab, v) in enumerate(zip(self.labels, self.values)):
            y = ly + 16 * i
            fill_rect(page, pymupdf.Rect(lx, y, lx + 10, y + 10), PALETTE[i % len(PALETTE)])
            put(page, lx + 16, y + 8.5, f"{lab}: {v:g}{self.unit}", 9.5)


@dataclass
class Picture:
    """A raster image that is not a chart (a photo, a diagram): make() returns its PNG or JPEG bytes."""

    make: Callable[[], bytes]
    raster = True
    chart = False

    def png(self, w: float, h: float) -> bytes:
        return self.make()


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size)


def encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    """PNG (optimised) or JPEG (quality 78) bytes of a Pillow image."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, optimize=True, **({"quality": 78} if fmt == "JPEG" else {}))
    return buf.getvalue()


def logo_png(letter: str, rgb: tuple[int, int, int]) -> bytes:
    img = Image.new("RGB", (96, 96), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.ellipse((4, 4, 92, 92), fill=rgb)
    d.text((48, 50), letter, fill=(255, 255, 255), font=font(52, bold=True), anchor="mm")
    return encode(img)
