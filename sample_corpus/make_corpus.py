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
        if pymupdf.get_text_length(cand, fontname=font, fontsize=size) <= width:
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
        page.insert_text((col.x0, col.y + size), line, fontname=font, fontsize=size, color=color)
        col.y += size * LEADING
    col.y += after
    if col.y > BOTTOM + 1:
        raise ValueError(f"text overflows the page bottom on page {page.number + 1}: {text[:40]!r}")


def para(page: pymupdf.Page, col: Col, text: str) -> None:
    write_lines(page, col, text, BODY, after=5)


def heading(page: pymupdf.Page, col: Col, text: str, size: float = 12.0) -> None:
    col.y += 3
    write_lines(page, col, text, size, font="hebo", after=3)


def centered(page: pymupdf.Page, x_mid: float, y_base: float, text: str, size: float, font: str = "helv",
             color: Color = BLACK) -> None:
    w = pymupdf.get_text_length(text, fontname=font, fontsize=size)
    page.insert_text((x_mid - w / 2, y_base), text, fontname=font, fontsize=size, color=color)


def right(page: pymupdf.Page, x_right: float, y_base: float, text: str, size: float, font: str = "helv",
          color: Color = BLACK) -> None:
    w = pymupdf.get_text_length(text, fontname=font, fontsize=size)
    page.insert_text((x_right - w, y_base), text, fontname=font, fontsize=size, color=color)


def caption_at(page: pymupdf.Page, x0: float, x1: float, y: float, text: str) -> float:
    """Write a caption whose first line box starts at y; return the y below it."""
    col = Col(x0, x1, y)
    write_lines(page, col, text, 9.0, font="heit", color=(0.1, 0.1, 0.1))
    return col.y


def caption_height(text: str, width: float) -> float:
    return len(wrap(text, width, 9.0, "heit")) * 9.0 * LEADING


# --------------------------------------------------------------------------------------------------------------------
# vector charts
# --------------------------------------------------------------------------------------------------------------------


def _axes(page: pymupdf.Page, rect: pymupdf.Rect, ymin: float, ymax: float, ticks: Sequence[float], tick_fmt: str,
          ylabel: str, xlabel: str) -> tuple[pymupdf.Rect, Callable[[float], float]]:
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
    w = pymupdf.get_text_length(ylabel, fontname="helv", fontsize=size)
    page.insert_text((rect.x0 + 11, (plot.y0 + plot.y1) / 2 + w / 2), ylabel, fontname="helv", fontsize=size,
                     rotate=90)
    centered(page, (plot.x0 + plot.x1) / 2, rect.y1 - 4, xlabel, size)
    return plot, ymap


def vector_bar_chart(page: pymupdf.Page, rect: pymupdf.Rect, labels: Sequence[str], values: Sequence[float], *,
                     ymax: float, ticks: Sequence[float], ylabel: str, xlabel: str, fmt: str = "{:.1f}",
                     color: Color = PALETTE[0]) -> None:
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


def vector_line_chart(page: pymupdf.Page, rect: pymupdf.Rect, xlabels: Sequence[str],
                      series: Sequence[tuple[str, Sequence[float]]], *, ymin: float, ymax: float,
                      ticks: Sequence[float], ylabel: str, xlabel: str, fmt: str = "{:.1f}",
                      label_points: Sequence[int] | None = None, legend: bool = True) -> None:
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
    for s, (name, vals) in enumerate(series):
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
            page.insert_text((pts[i].x + 4, pts[i].y - 4), fmt.format(vals[i]), fontname="hebo", fontsize=7.5,
                             color=color)
    if legend and len(series) > 1:
        lx, ly = plot.x1 - 118, plot.y0 + 4
        for s, (name, _) in enumerate(series):
            y = ly + s * 11
            page.draw_line((lx, y + 4), (lx + 14, y + 4), color=PALETTE[s % len(PALETTE)], width=2)
            page.insert_text((lx + 18, y + 7), name, fontname="helv", fontsize=8)


def vector_pie(page: pymupdf.Page, rect: pymupdf.Rect, labels: Sequence[str], values: Sequence[float],
               unit: str = "%") -> None:
    r = min(rect.height / 2 - 6, rect.width / 4)
    c = pymupdf.Point(rect.x0 + r + 12, (rect.y0 + rect.y1) / 2)
    total = float(sum(values))
    start = -90.0
    for i, v in enumerate(values):
        sweep = 360.0 * v / total
        steps = max(2, int(sweep / 4))
        pts = [c] + [
            pymupdf.Point(c.x + r * math.cos(math.radians(start + sweep * k / steps)),
                          c.y + r * math.sin(math.radians(start + sweep * k / steps)))
            for k in range(steps + 1)
        ] + [c]
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
        page.insert_text((lx + 16, y + 8.5), f"{lab}: {v:g}{unit}", fontname="helv", fontsize=9.5)


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


def raster_bar_chart(rect: pymupdf.Rect, labels: Sequence[str], values: Sequence[float], *, ylabel: str, xlabel: str,
                     fmt: str, color: str = HEX[1], ymax: float | None = None) -> bytes:
    fig, ax = _mpl_fig(rect)
    bars = ax.bar(list(labels), list(values), color=color, width=0.62)
    for b, v in zip(bars, values):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height(), fmt.format(v), ha="center", va="bottom", fontsize=12,
                fontweight="bold")
    ax.set_ylim(0, ymax if ymax is not None else max(values) * 1.18)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.tick_params(labelsize=9.5)
    fig.tight_layout(pad=0.6)
    return _mpl_png(fig)


def raster_line_chart(rect: pymupdf.Rect, xlabels: Sequence[str], values: Sequence[float], *, ylabel: str,
                      xlabel: str, fmt: str, ylim: tuple[float, float], color: str = HEX[0]) -> bytes:
    fig, ax = _mpl_fig(rect)
    xs = list(range(len(values)))
    ax.plot(xs, list(values), color=color, marker="o", linewidth=2)
    for x, v in zip(xs, values):
        ax.annotate(fmt.format(v), (x, v), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=11.5,
                    fontweight="bold")
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
            d.polygon([(x0, y0 + 30), (x0 + 18, y0), (x0 + 100, y0), (x0 + 82, y0 + 30)], fill=(28, 48, 92),
                      outline=(170, 180, 200))
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
        d.rounded_rectangle((x0, y0, x0 + bw, y0 + bh), radius=10, fill=(219, 233, 247), outline=(31, 102, 171),
                            width=3)
        d.text((x0 + bw / 2, y0 + bh / 2), s if len(s) < 12 else "Yield\nAnalysis", fill=(10, 30, 60), font=font,
               anchor="mm", align="center")
        centers.append((x0, x0 + bw))
        if i:
            ax0, ax1 = centers[i - 1][1] + 4, x0 - 4
            d.line([(ax0, y0 + bh / 2), (ax1, y0 + bh / 2)], fill=(40, 40, 40), width=3)
            d.polygon([(ax1, y0 + bh / 2), (ax1 - 10, y0 + bh / 2 - 6), (ax1 - 10, y0 + bh / 2 + 6)],
                      fill=(40, 40, 40))
    # inspection station below Etch and CMP, with dashed feedback to Lithography
    ix0, ix1 = centers[1][0], centers[3][1]
    iy0 = y0 + bh + 70
    d.rounded_rectangle((ix0, iy0, ix1, iy0 + 56), radius=10, fill=(253, 236, 217), outline=(229, 125, 33), width=3)
    d.text(((ix0 + ix1) / 2, iy0 + 28), "Optical Inspection (every 5th wafer)", fill=(80, 40, 0), font=_font(17),
           anchor="mm")
    for cx in ((centers[1][0] + centers[1][1]) / 2, (centers[3][0] + centers[3][1]) / 2):
        for yy in range(int(y0 + bh + 4), int(iy0 - 4), 10):
            d.line([(cx, yy), (cx, yy + 5)], fill=(229, 125, 33), width=3)
    d.text((w / 2, h - 18), "defect maps fed back to Lithography within 24 h", fill=(90, 90, 90), font=_font(15),
           anchor="mm")
    return _png(img)


# --------------------------------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------------------------------


def draw_table(page: pymupdf.Page, x0: float, y0: float, widths: Sequence[float], rows: Sequence[Sequence[str]],
               row_h: float = 16.0, size: float = 8.5) -> pymupdf.Rect:
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
                page.insert_text((xs[c] + 4, base), cell, fontname=font, fontsize=size)
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
        return self.doc.new_page(width=PAGE_W, height=PAGE_H)

    def stamp(self, page: pymupdf.Page, pno: int) -> None:
        page.insert_text((MARGIN, 40), self.header, fontname="helv", fontsize=8.5, color=GREY)
        page.draw_line((MARGIN, 46), (PAGE_W - MARGIN, 46), color=GREY, width=0.5)
        page.draw_line((MARGIN, 754), (PAGE_W - MARGIN, 754), color=GREY, width=0.5)
        page.insert_text((MARGIN, 768), self.footer_left, fontname="helv", fontsize=8, color=GREY)
        right(page, PAGE_W - MARGIN, 768, f"Page {pno} of {self.n_pages}", 8, color=GREY)

    def title_block(self, page: pymupdf.Page, subtitle: str, logo: bytes) -> float:
        logo_rect = pymupdf.Rect(MARGIN, 60, MARGIN + 24, 84)
        page.insert_image(logo_rect, stream=logo)
        self.logos.append({"page": page.number + 1, "bbox": r4(logo_rect)})
        page.insert_text((MARGIN + 32, 78), self.footer_left, fontname="hebo", fontsize=10, color=GREY)
        col = full_col(96)
        write_lines(page, col, self.title, 20, font="hebo", after=2)
        write_lines(page, col, subtitle, 10.5, font="heit", color=GREY, after=6)
        page.draw_line((MARGIN, col.y), (PAGE_W - MARGIN, col.y), color=BLACK, width=1)
        return col.y + 10

    def figure(self, page: pymupdf.Page, rect: pymupdf.Rect, kind: str, caption: str, position: str, *,
               chart: bool = True, draw: Callable[[pymupdf.Rect], None] | None = None, png: bytes | None = None) -> float:
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
        self.figures.append({"page": page.number + 1, "bbox": r4(body), "type": kind, "chart": chart,
                             "caption": caption, "caption_position": position})
        return end + 8

    def table(self, page: pymupdf.Page, x0: float, y0: float, widths: Sequence[float], rows: Sequence[Sequence[str]],
              caption: str, position: str, *, continued: bool = False, row_h: float = 16.0) -> float:
        width = sum(widths)
        y = y0
        if position == "above":
            y = caption_at(page, x0, x0 + width, y0, caption) + 3
        rect = draw_table(page, x0, y, widths, rows, row_h=row_h)
        end = rect.y1 + 6
        if position == "below":
            end = caption_at(page, x0, x0 + width, rect.y1 + 5, caption)
        self.tables.append({"page": page.number + 1, "bbox": r4(rect), "caption": caption,
                            "caption_position": position, "header": list(rows[0]), "n_rows": len(rows),
                            "n_cols": len(widths), "continued": continued})
        return end + 8

    def scanned_page(self, compose: Callable[[pymupdf.Page], None]) -> pymupdf.Page:
        """Compose a page in a scratch document, render it to greyscale pixels and insert those as a full-page
        image on an otherwise empty page: a scan without a text layer."""
        pno = self.doc.page_count + 1
        scratch = pymupdf.open()
        sp = scratch.new_page(width=PAGE_W, height=PAGE_H)
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
        self.doc.set_metadata({
            "title": self.title, "author": self.footer_left, "subject": self.header, "keywords": "mmrag sample",
            "creator": "mmrag sample_corpus/make_corpus.py", "producer": "PyMuPDF",
            "creationDate": PDF_DATE, "modDate": PDF_DATE, "trapped": "", "format": "", "encryption": None,
        })
        self.doc.save(out_dir / self.name, garbage=4, deflate=True, deflate_images=True, deflate_fonts=True,
                      no_new_id=True, reproducible=True)
        self.doc.close()
        return {"title": self.title, "pages": self.n_pages, "scanned_pages": self.scanned,
                "header_text": self.header, "footer_text": self.footer_left, "footer_pattern": FOOTER_PATTERN,
                "logos": self.logos, "figures": self.figures, "tables": self.tables}

