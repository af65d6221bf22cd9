"""The benchmark pages, made from the result files: docs/benchmarks/ and the README's figures block.

    python benchmarks/render_pages.py            # write docs/benchmarks/*.md, docs/benchmarks/img/*.png, README block
    python benchmarks/render_pages.py --check    # exit 1 when they differ from what the result files give
        [--results benchmarks/results] [--docs docs/benchmarks] [--readme README.md | --readme '']

Every benchmarks/results/*.json (the envelope of benchmarks/results.py: kind, label, date, machine, versions,
command, compared, setup, figures, notes, source) becomes a section of its kind's page, docs/benchmarks/<kind>.md:
the newest result of each series first, older ones below as history, each with what its run compared, its date,
machine and command, and all its figures as tables; plots (PNG, docs/benchmarks/img/) where a run measured a
series (latency against size or clients). docs/benchmarks/index.md holds the newest headline figure of each kind,
and the README's block between `<!-- figures:start -->` and `<!-- figures:end -->` a short table of them (left
alone when the README has no such block). No figure is typed by hand: change a result file, run this, commit both.
The output depends on the result files only (sorted, no clock, PNG without a software stamp), so a test can render
again and compare. docs/benchmarks/ belongs to this script: a page or plot there that no result makes is deleted.
This module imports nothing from benchmarks/ and no package of the project.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import re
import struct
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "benchmarks"
README = ROOT / "README.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
REQUIRED = ("kind", "label", "date", "machine", "command", "compared", "figures")
README_ROWS = 8
INLINE_KEYS = 4  # a dict of at most this many scalars is written inside one table cell
CELL_CHARS = 200  # longer strings (log tails) are cut in tables
SEP = " › "
PLOT_STYLE = 4  # part of each plot's digest: bump it when png() draws differently, so the images are made again


# ------------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class Result:
    path: Path
    data: dict[str, Any]

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def kept(self) -> bool:
        """False for a variant that was measured and not kept (`"kept": false`): never a series' current result."""
        return self.data.get("kept", True) is not False

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def date(self) -> str:
        return str(self.data["date"])

    @property
    def figures(self) -> dict[str, Any]:
        return self.data["figures"]

    @property
    def setup(self) -> dict[str, Any]:
        return self.data.get("setup") or {}

    def sort_key(self) -> tuple[str, int, str]:
        """Newest last: the date ("2026-11-xx", a month without its day, sorts first in the month), then the
        position within the day a transcribed result gives (`sequence`), then the file name."""
        return self.date.replace("x", "0"), int(self.data.get("sequence") or 0), self.stem


def load_results(folder: Path) -> list[Result]:
    """Every *.json in the folder, newest first; a file that is not a result is an error naming it."""
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise ValueError(f"{path.name}: not JSON ({exc})") from None
        missing = [k for k in REQUIRED if k not in data] if isinstance(data, dict) else list(REQUIRED)
        if missing:
            raise ValueError(f"{path.name}: not a benchmark result (missing {', '.join(missing)})")
        if not isinstance(data["figures"], dict):
            raise ValueError(f"{path.name}: figures must be an object")
        out.append(Result(path, data))
    return sorted(out, key=Result.sort_key, reverse=True)


# ------------------------------------------------------------------------------------------------------ formatting
def fmt(value: Any) -> str:
    """One value as the pages write it (tests use this to find a figure on its page)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 1000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return cell_text(str(value))


def cell_text(text: str, limit: int | None = CELL_CHARS) -> str:
    """A string made safe for one Markdown table cell (cut at limit characters; None: whole)."""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def fmt_cell(value: Any) -> str:
    """A table cell: a value, a list of values, or a small dict written inline."""
    if isinstance(value, dict):
        if not value:
            return "—"
        if set(value) == {"p50_ms", "p95_ms"}:
            return f"p50 {fmt(value['p50_ms'])} / p95 {fmt(value['p95_ms'])} ms"
        return ", ".join(f"{cell_text(str(k))} {fmt_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        if not value:
            return "—"
        return "; ".join(" ".join(fmt(x) for x in v) if isinstance(v, list) else fmt(v) for v in value)
    return fmt(value)


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out + [""]


def anchor(heading: str) -> str:
    """The id Python-Markdown's toc gives a heading (what mkdocs links to)."""
    text = re.sub(r"[^\w\s-]", "", heading).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


# ------------------------------------------------------------------------------------------------------ figures
def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, bool | int | float | str)


def _flat_list(v: Any) -> bool:
    return isinstance(v, list) and all(_scalar(x) or (isinstance(x, list) and all(map(_scalar, x))) for x in v)


def _small_dict(v: Any) -> bool:
    return isinstance(v, dict) and len(v) <= INLINE_KEYS and all(map(_scalar, v.values()))


def _cell(v: Any) -> bool:
    return _scalar(v) or _flat_list(v) or _small_dict(v)


def _record(v: Any) -> bool:
    return isinstance(v, dict) and bool(v) and all(map(_cell, v.values()))


def _record_table(v: Any) -> bool:
    return isinstance(v, dict) and bool(v) and all(isinstance(x, dict) and _record(x) for x in v.values())


def _record_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(_record(x) for x in v)


def _columns(records: Iterable[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for r in records for k in r))


def _caption(path: list[str]) -> list[str]:
    return [f"**{cell_text(SEP.join(path))}**", ""] if path else []


def figure_tables(obj: Any, path: list[str] | None = None) -> list[str]:
    """Markdown tables of every figure under obj: values in a two-column table, sibling records with the same
    keys as one table (a row each), a dict of records or a list of records as one table, deeper parts below."""
    path = path or []
    if isinstance(obj, list):
        obj = {f"[{i}]": v for i, v in enumerate(obj)}
    if not isinstance(obj, dict):
        return _caption(path) + table(["figure", "value"], [["value", fmt_cell(obj)]])
    values: list[tuple[str, Any]] = []
    groups: list[tuple[list[str], list[tuple[str, dict[str, Any]]]]] = []
    parts: list[tuple[str, Any]] = []  # in order: ("group", index), ("table", key), ("list", key), ("deep", key)
    for key, v in obj.items():
        key = str(key)
        if _scalar(v) or _flat_list(v) or v == {}:
            values.append((key, v))
        elif _record_table(v) and len(v) > 1:
            parts.append(("table", key))
        elif _record_list(v):
            parts.append(("list", key))
        elif _record(v) and sum(isinstance(x, dict) for x in v.values()) < 2:  # else: its dicts as a table below
            keys = list(v)
            for cols, members in groups:
                if 2 * len(set(keys) & set(cols)) >= len(keys):
                    cols += [k for k in keys if k not in cols]
                    members.append((key, v))
                    break
            else:
                groups.append((keys, [(key, v)]))
                parts.append(("group", str(len(groups) - 1)))
        else:
            parts.append(("deep", key))
    for _, members in groups:  # a lone record is a few more values
        if len(members) == 1:
            name, rec = members[0]
            values += [(f"{name}{SEP}{k}", x) for k, x in rec.items()]
    out: list[str] = []
    captioned = False  # this node's caption stands right above: tables of its own need no other
    if values:
        out += _caption(path) + table(["figure", "value"], ([cell_text(k), fmt_cell(v)] for k, v in values))
        captioned = True
    for what, key in parts:
        if what == "group":
            cols, members = groups[int(key)]
            if len(members) > 1:
                out += ([] if captioned else _caption(path)) + table(["", *map(cell_text, cols)], (
                    [cell_text(name), *(fmt_cell(rec[c]) if c in rec else "" for c in cols)] for name, rec in members))
                captioned = True
            continue
        captioned = False
        if what == "table":
            rows = obj[key]
            cols = _columns(rows.values())
            out += _caption([*path, key]) + table(["", *map(cell_text, cols)], (
                [cell_text(str(name)), *(fmt_cell(rec[c]) if c in rec else "" for c in cols)]
                for name, rec in rows.items()))
        elif what == "list":
            rows = obj[key]
            cols = _columns(rows)
            out += _caption([*path, key]) + table(list(map(cell_text, cols)), (
                [fmt_cell(rec[c]) if c in rec else "" for c in cols] for rec in rows))
        else:
            out += figure_tables(obj[key], [*path, key])
    return out


def numbers(obj: Any) -> Iterable[int | float]:
    """Every number under obj (booleans are not figures)."""
    if isinstance(obj, dict):
        for v in obj.values():
            yield from numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from numbers(v)
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield obj


# ------------------------------------------------------------------------------------------------------ plots
@dataclass
class Plot:
    name: str
    title: str
    xlabel: str
    ylabel: str
    series: dict[str, list[tuple[float, float]]]
    xlog: bool = True
    ylog: bool = True
    hline: tuple[str, float] | None = None

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "xlabel": self.xlabel, "ylabel": self.ylabel,
                "series": {k: [list(p) for p in v] for k, v in self.series.items()}, "xlog": self.xlog,
                "ylog": self.ylog, "hline": list(self.hline) if self.hline else None}

    def digest(self) -> str:
        spec = {**self.spec(), "style": PLOT_STYLE}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _num(v: Any) -> float | None:
    """A number, or a string of digits (sizes are object keys); else None."""
    if isinstance(v, str) and re.fullmatch(r"\d+(\.\d+)?", v):
        return float(v)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _series(points: Iterable[tuple[Any, Any]]) -> list[tuple[float, float]]:
    pts = [(_num(x), _num(y)) for x, y in points]
    return sorted((x, y) for x, y in pts if x is not None and y is not None)


def _plot(name: str, title: str, xlabel: str, ylabel: str, series: dict[str, list[tuple[float, float]]],
          **kw: Any) -> list[Plot]:
    """A plot when some series has two points or more."""
    series = {k: v for k, v in series.items() if v}
    if not any(len(v) > 1 for v in series.values()):
        return []
    return [Plot(name, title, xlabel, ylabel, series, **kw)]


def png(plot: Plot) -> bytes:
    """The plot as PNG bytes: matplotlib's own defaults, Agg, no software stamp; the data's digest as Source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        fig, ax = plt.subplots(figsize=(8.0, 3.8))
        markers = "osD^v<>ph*"
        for i, (label, pts) in enumerate(plot.series.items()):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=markers[i % len(markers)], label=label)
        if plot.hline:
            ax.axhline(plot.hline[1], color="grey", linestyle="--", label=plot.hline[0])
        xs = sorted({p[0] for pts in plot.series.values() for p in pts})
        if plot.xlog:
            ax.set_xscale("log")
        elif all(x.is_integer() for x in xs):
            ax.set_xticks(xs)
        if plot.ylog:
            ax.set_yscale("log")
        else:
            ys = [p[1] for pts in plot.series.values() for p in pts] + ([plot.hline[1]] if plot.hline else [])
            ax.set_ylim(0, 1.1 * max(ys))
        ax.set_title(plot.title, fontsize="medium")
        ax.set_xlabel(plot.xlabel)
        ax.set_ylabel(plot.ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None, "Source": f"render_pages {plot.digest()}"})
        plt.close(fig)
    return buf.getvalue()


def png_source(data: bytes) -> str | None:
    """The Source text of a PNG made by png() (what the data was), without decoding the image."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"tEXt":
            key, _, value = data[pos + 8 : pos + 8 + length].partition(b"\0")
            if key == b"Source":
                return value.decode("latin-1")
        pos += 12 + length
    return None


# ------------------------------------------------------------------------------------------------------ kinds
def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _p50(t: Any) -> float | None:
    return _num(t.get("p50_ms")) if isinstance(t, dict) else None


def _sizes(r: Result) -> list[tuple[int, dict[str, Any]]]:
    sizes = r.figures.get("sizes")
    if not isinstance(sizes, dict):
        return []
    return sorted(((int(k), v) for k, v in sizes.items() if str(k).isdigit() and isinstance(v, dict)))


def short(value: Any) -> str:
    """A figure in a headline: three significant digits."""
    if isinstance(value, float) and math.isfinite(value) and abs(value) < 1000:
        return f"{value:.3g}"
    return fmt(value)


def span(lo: Any, hi: Any) -> str:
    return short(lo) if short(lo) == short(hi) else f"{short(lo)}–{short(hi)}"


def retrieval_headline(r: Result) -> str | None:
    fused = _get(r.figures, "metrics", "fused")
    if not isinstance(fused, dict) or _num(fused.get("page_hit@1")) is None:
        return None
    text = f"fused page_hit@1 / @5: {fused['page_hit@1']:.3f} / {fused['page_hit@5']:.3f}"
    if _num(fused.get("mrr")) is not None:
        text += f", MRR {fused['mrr']:.3f}"
    n = r.figures.get("n") or r.setup.get("questions")
    return text + (f" ({n} questions)" if isinstance(n, int) else "")


def ingest_headline(r: Result) -> str | None:
    rows = [row for row in r.figures.get("rows") or [] if _num(row.get("ratio_vs_pymupdf4llm")) is not None]
    if not rows:
        return None
    row = rows[-1]
    pages = r.figures.get("pages")
    growth = _num(_get(r.figures, "memory_growth", "files, settings on"))  # two corpus sizes in files, else pages
    if growth is None:
        growth = _num(_get(r.figures, "memory_growth", "pages, settings on"))
    memory = [m for m in r.figures.get("memory") or [] if m.get("memory_settings") == "on"]
    tail = ""
    if growth is not None and len(memory) >= 2:
        tail = (f"; tree peak PSS {short(memory[0]['pages'])} → {short(memory[-1]['pages'])} pages: "
                f"{growth:.2f}×")
    return (f"{short(pages)} pages: {row['pages_per_s']:.2f} pages/s, {row['ratio_vs_pymupdf4llm']:.2f}× "
            f"pymupdf4llm (`{row['name']}`){tail}")


def parse_headline(r: Result) -> str | None:
    rows = [row for row in r.figures.get("rows") or [] if _num(row.get("ratio_vs_pymupdf4llm")) is not None]
    if not rows:
        return None
    return "; ".join(f"`{row['name']}` {row['pages_per_s']:.1f} pages/s, {row['ratio_vs_pymupdf4llm']:.1f}× "
                     "pymupdf4llm" for row in rows)


def scale_headline(r: Result) -> str | None:
    sizes = _sizes(r)
    if not sizes:
        return None
    n, s = sizes[-1]
    parts = []
    if _p50(s.get("fused_faiss")) is not None:
        parts.append(f"all channels fused p50 {short(_p50(s['fused_faiss']))} ms (image in FAISS), "
                     f"{short(_p50(s.get('fused_qdrant')))} ms (in Qdrant)")
    elif isinstance(s.get("text"), dict):
        text = s["text"]
        seg = "hnsw" if isinstance(text.get("hnsw"), dict) else "plain"
        fused = _p50(_get(text, seg, "fused"))
        if fused is not None:
            recall = text.get("fused_recall@10")
            parts.append(f"text fused p50 {short(fused)} ms ({'HNSW' if seg == 'hnsw' else 'plain segments'}"
                         + (f", recall@10 {short(recall)})" if recall is not None else ")"))
    faiss = s.get("image_faiss")
    if not parts and isinstance(faiss, dict) and _p50(faiss.get("hnsw")) is not None:
        parts.append(f"image FAISS HNSW p50 {short(_p50(faiss['hnsw']))} ms, "
                     f"recall@10 {short(faiss.get('hnsw_recall@10'))}")
    pages = s.get("pages")
    if not parts and isinstance(pages, dict):
        for _key, form in sorted((k, v) for k, v in pages.items() if re.fullmatch(r"pool\d+", k)
                                 and isinstance(v, dict)):
            parts.append(f"pages (pool {form.get('pool_factor')}, {short(form.get('vector_bytes_per_page'))} B of "
                         f"vectors a page) exact MaxSim p50 {short(_p50(form.get('full')))} ms, two-stage "
                         f"{short(_p50(form.get('two_stage')))} ms")
        if parts:
            return f"{n:,} pages: " + "; ".join(parts)
    return f"{n:,} elements: " + "; ".join(parts) if parts else None


def serve_headline(r: Result) -> str | None:
    over = {k: v for k, v in (_get(r.figures, "goals", "overhead_p50_ms") or {}).items() if _num(v) is not None}
    if not over:
        return None
    errors = _get(r.figures, "goals", "errors_at_32") or {}
    text = f"HTTP overhead p50 {span(min(over.values()), max(over.values()))} ms"
    if errors:
        text += f", {short(sum(errors.values()))} errors at 32 clients"
    pages = _get(r.setup, "corpus", "pages")
    return text + (f" ({short(pages)}-page index)" if pages else "")


def retrieval_group(r: Result) -> str:
    """The dataset, and the split when a run scored only part of it (the README shows whole sets)."""
    split = r.setup.get("split") or "all"
    dataset = str(r.setup.get("dataset") or r.data["label"])
    return dataset if split == "all" else f"{dataset}, {split} split"


def ingest_group(r: Result) -> str:
    """The corpus a run timed: its label without the round or time of day ("devset-round7" -> "devset")."""
    return re.sub(r"-(?:round\d+|\d{4}utc)$", "", str(r.data["label"]))


def faiss_delete_headline(r: Result) -> str | None:
    f = r.figures
    tomb, rebuild = f.get("tombstones") or {}, f.get("rebuild") or {}
    if not tomb or not rebuild or f.get("vectors") is None:
        return None
    td, tr = (short(tomb.get(f"{op}_then_search_s")) for op in ("delete", "replace"))
    bd, br = (short(rebuild.get(f"{op}_then_search_s")) for op in ("delete", "replace"))
    return (f"{f['vectors']:,} vectors (HNSW): delete a document + first search {td} s with tombstones vs {bd} s "
            f"rebuilding; replace {tr} vs {br} s")


def ingest_ab_headline(r: Result) -> str | None:
    f = r.figures
    ratio, commits = f.get("head_over_base") or {}, f.get("commits") or {}
    if ratio.get("seconds") is None or not commits:
        return None
    runs = len(f.get("runs") or []) // 2
    return (f"`mmrag index` at {str(commits.get('head'))[:7]}: {ratio['seconds']}× the time of "
            f"{str(commits.get('base'))[:7]} on {len(f.get('files') or [])} files ({f.get('pages')} pages), "
            f"{runs} interleaved runs each; workers' CPU {ratio.get('workers_cpu_s')}×, main CPU "
            f"{ratio.get('main_cpu_s')}×")


def reader_headline(r: Result) -> str | None:
    f = r.figures
    if isinstance(f.get("sizes"), dict) and f["sizes"]:
        rows = f["sizes"].values()
        ms = [row["reader_ms"] for row in rows]
        ratio = [row["ratio"] for row in rows]
        n = [int(k) for k in f["sizes"]]
        return (f"{span(min(n), max(n))} points: reader opens in {span(min(ms), max(ms))} ms, "
                f"{span(min(ratio), max(ratio))}× a plain open")
    if isinstance(f.get("reader_open_s"), dict):
        s, q = f["reader_open_s"], f.get("ratio_to_plain_open") or {}
        return (f"{span(f.get('points_min'), f.get('points_max'))} points: reader opens in "
                f"{span(s['min'], s['max'])} s, {span(q.get('min'), q.get('max'))}× a plain open")
    return None


def text_channel_headline(r: Result) -> str | None:
    edge = r.figures.get("edge") or {}
    sizes = sorted((int(k), v) for k, v in edge.items() if str(k).isdigit())
    if not sizes:
        return None
    n, e = sizes[-1]
    seg = "fused_optimized" if "fused_optimized" in e else "fused"
    state = "after optimise" if "opt" in seg else "plain segments"
    text = f"Qdrant Edge fused p50 {short(_p50(e.get(seg)))} ms at {n:,} points ({state})"
    local = [(int(k), v) for k, v in (r.figures.get("local") or {}).items() if "p50_ratio_local_over_edge" in v]
    if local:
        m, v = sorted(local)[-1]
        text += f"; qdrant-client local mode {short(v['p50_ratio_local_over_edge'])}× slower at {m:,}"
    return text


def image_channel_headline(r: Result) -> str | None:
    parts = []
    hnsw = [row for row in r.figures.get("search") or [] if str(row.get("index", "")).startswith("hnsw")
            and "filter" not in str(row.get("index"))]
    if hnsw:
        row = max(hnsw, key=lambda x: x["n"])
        parts.append(f"FAISS HNSW p50 {short(row['p50_ms'])} ms at {short(row['n'])} vectors"
                     + (f", recall@10 {short(row['recall@10'])}" if "recall@10" in row else ""))
    enc = r.figures.get("encode")
    if isinstance(enc, list) and enc:
        ratios = [row["ratio"] for row in enc]
        parts.append(f"pipeline at {span(min(ratios), max(ratios))}× the bare model's speed")
    elif "pipeline_speed_over_bare_min" in r.figures:
        lo, hi = r.figures["pipeline_speed_over_bare_min"], r.figures["pipeline_speed_over_bare_max"]
        parts.append(f"pipeline at {span(lo, hi)}× the bare model's speed")
    return "; ".join(parts) or None


def ask_headline(r: Result) -> str | None:
    gen, bare = _get(r.figures, "generator", "ttft_s"), _get(r.figures, "bare", "ttft_s")
    if _num(gen) is None or _num(bare) is None:
        return None
    return f"time to first token {short(gen)} s against {short(bare)} s for a bare `model.generate`"


def gpu_headline(r: Result) -> str | None:
    gpu = [row for row in r.figures.get("search") or [] if str(row.get("engine", "")).startswith("gpu")]
    enc = r.figures.get("encode") or []
    parts = []
    if gpu:
        row = max(gpu, key=lambda x: x["n"])
        parts.append(f"GPU brute-force top-10 p50 {short(row['p50_ms'])} ms at {short(row['n'])} vectors")
    if enc:
        best = max(enc, key=lambda x: x["pipeline_img_s"])
        parts.append(f"encode {short(best['pipeline_img_s'])} img/s ({short(best['ratio'])}× the bare model)")
    if not parts:
        return None
    return "; ".join(parts) + (f" ({r.figures['gpu']})" if r.figures.get("gpu") else "")


def pages_encode_headline(r: Result) -> str | None:
    enc = [row for row in r.figures.get("encode") or [] if _num(row.get("pipeline_pages_s")) is not None]
    if not enc:
        return None
    best = max(enc, key=lambda x: x["pipeline_pages_s"])
    where = r.figures.get("gpu") or r.figures.get("device")
    return (f"{r.figures.get('model')}: {short(best['pipeline_pages_s'])} pages/s at batch {best['batch_size']} "
            f"({short(best['ratio'])}× the bare model), {where}")


def scale_summary(r: Result) -> list[str]:
    """One row per size: what `mmrag search` costs per channel and fused (p50 / p95 ms), and recall@10."""
    sizes = _sizes(r)
    if not sizes:
        return []
    cols: dict[str, Callable[[dict[str, Any]], Any]] = {
        "text fused, plain": lambda s: _get(s, "text", "plain", "fused"),
        "text fused, HNSW": lambda s: _get(s, "text", "hnsw", "fused"),
        "text recall@10 dense / fused": lambda s: (
            f"{fmt(_get(s, 'text', 'dense_recall@10'))} / {fmt(_get(s, 'text', 'fused_recall@10'))}"
            if _get(s, "text", "dense_recall@10") is not None else None),
        "image FAISS flat": lambda s: _get(s, "image_faiss", "flat"),
        "image FAISS HNSW": lambda s: _get(s, "image_faiss", "hnsw"),
        "FAISS recall@10": lambda s: _get(s, "image_faiss", "hnsw_recall@10"),
        "image Qdrant, plain": lambda s: _get(s, "image_qdrant", "plain"),
        "image Qdrant, HNSW": lambda s: _get(s, "image_qdrant", "hnsw"),
        "Qdrant recall@10": lambda s: _get(s, "image_qdrant", "hnsw_recall@10") or _get(
            s, "image_qdrant", "plain_recall@10"),
        "all fused, image in FAISS": lambda s: s.get("fused_faiss"),
        "all fused, image in Qdrant": lambda s: s.get("fused_qdrant"),
    }
    pools = sorted({k for _, s in sizes for k in (s.get("pages") or {}) if re.fullmatch(r"pool\d+", k)})
    for pool in pools:  # the pages channel, per stored form
        f = pool.removeprefix("pool")
        cols[f"pages pool {f}: bytes/page (vectors / disk)"] = lambda s, p=pool: (
            f"{fmt(_get(s, 'pages', p, 'vector_bytes_per_page'))} / {fmt(_get(s, 'pages', p, 'disk_bytes_per_page'))}"
            if _get(s, "pages", p) else None)
        cols[f"pages pool {f}: exact MaxSim"] = lambda s, p=pool: _get(s, "pages", p, "full")
        cols[f"pages pool {f}: two-stage"] = lambda s, p=pool: _get(s, "pages", p, "two_stage")
        cols[f"pages pool {f}: two-stage recall@10"] = lambda s, p=pool: _get(s, "pages", p, "two_stage_recall@10")
    used = [c for c, get in cols.items() if any(get(s) is not None for _, s in sizes)]
    if not used:
        return []
    rows = [[f"{n:,}", *(fmt_cell(cols[c](s)) if cols[c](s) is not None else "" for c in used)] for n, s in sizes]
    return ["**Summary** (latency: p50 / p95 ms, query encoding not included)", "", *table(["elements", *used], rows)]


def scale_plots(r: Result) -> list[Plot]:
    sizes = _sizes(r)
    lines = {
        "text dense, plain": ("text", "plain", "dense"), "text fused, plain": ("text", "plain", "fused"),
        "text dense, HNSW": ("text", "hnsw", "dense"), "text fused, HNSW": ("text", "hnsw", "fused"),
        "image FAISS flat": ("image_faiss", "flat"), "image FAISS HNSW": ("image_faiss", "hnsw"),
        "image Qdrant, plain": ("image_qdrant", "plain"), "image Qdrant, HNSW": ("image_qdrant", "hnsw"),
        "all fused, FAISS": ("fused_faiss",), "all fused, Qdrant": ("fused_qdrant",),
    }
    series = {label: _series((n, _p50(_get(s, *keys))) for n, s in sizes) for label, keys in lines.items()}
    return _plot("latency", "search p50 by index size", "elements", "p50 ms", series)


def serve_plots(r: Result) -> list[Plot]:
    series: dict[str, list[tuple[float, float]]] = {}
    for phase, data in (r.figures.get("phases") or {}).items():
        for cell in (data.get("cells") or {}).values():
            label = f"{phase}: {cell.get('mode')} {cell.get('endpoint')}"
            series.setdefault(label, []).append((cell.get("clients"), cell.get("p50_ms")))
    return _plot("latency", "p50 latency by concurrent clients", "clients", "p50 ms",
                 {k: _series(v) for k, v in series.items()})


def reader_plots(r: Result) -> list[Plot]:
    sizes = r.figures.get("sizes")
    if not isinstance(sizes, dict):
        return []
    return _plot("open", "open time by store size", "points", "median ms", {
        "reader beside a writer": _series((k, v.get("reader_ms")) for k, v in sizes.items()),
        "plain open": _series((k, v.get("plain_ms")) for k, v in sizes.items())})


def text_channel_plots(r: Result) -> list[Plot]:
    edge = r.figures.get("edge") or {}
    series = {f"Edge {name}": _series((k, _p50(v.get(key))) for k, v in edge.items())
              for name, key in (("dense", "dense"), ("lexical", "lexical"), ("fused", "fused"),
                                ("fused, filtered", "fused_filtered"), ("fused, after optimise", "fused_optimized"))}
    local = r.figures.get("local") or {}
    series["qdrant-client local, fused"] = _series((k, _p50(v.get("fused"))) for k, v in local.items())
    return _plot("latency", "search p50 by index size", "points", "p50 ms", series)


def image_channel_plots(r: Result) -> list[Plot]:
    plots = []
    rows = r.figures.get("search") or []
    by_index: dict[str, list[tuple[Any, Any]]] = {}
    for row in rows:
        by_index.setdefault(str(row.get("index") or row.get("engine")), []).append((row.get("n"), row.get("p50_ms")))
    plots += _plot("search", "search p50 by index size", "vectors", "p50 ms",
                   {k: _series(v) for k, v in by_index.items()})
    enc = r.figures.get("encode") or []
    if isinstance(enc, list):
        plots += _plot("encode", "image encoding throughput by batch size", "batch size", "images/s", {
            "pipeline": _series((row.get("batch_size"), row.get("pipeline_img_s")) for row in enc),
            "bare model": _series((row.get("batch_size"), row.get("bare_img_s")) for row in enc)}, ylog=False)
    return plots


def ingest_plots(r: Result) -> list[Plot]:
    rows = [row for row in r.figures.get("rows") or [] if "workers" in row]
    base = _num(_get(r.figures, "baseline", "pages_per_s"))
    return _plot("workers", "pages/s by worker processes", "workers", "pages/s",
                 {"mmrag index": _series((row["workers"], row.get("pages_per_s")) for row in rows)},
                 xlog=False, ylog=False, hline=("pymupdf4llm.to_markdown", base) if base is not None else None)


@dataclass
class Kind:
    title: str
    script: str
    about: str
    headline: Callable[[Result], str | None] = lambda r: None
    group: Callable[[Result], str] = lambda r: ""
    summary: Callable[[Result], list[str]] = lambda r: []
    plots: Callable[[Result], list[Plot]] = lambda r: []
    prefer: tuple[str, ...] = field(default_factory=tuple)  # the group the README shows, when it has a headline


KINDS: dict[str, Kind] = {
    "retrieval": Kind(
        "Retrieval quality", "benchmarks/devset.py",
        "How often a question's evidence page ranks first (page_hit@1) or in the top 5 (page_hit@5), MRR and nDCG@5, "
        "for each channel alone (`text:dense`, `text:lexical`, `text`, `image`) and for `fused`, what `mmrag search` "
        "and `mmrag ask` use; p50 is one search, query encoding included. Datasets: `devset` is ../shared/devset "
        "(23 SEC filings, 2,499 pages, 68 questions), `devset-visual` is ../shared/devset-visual (8 PDFs, 281 pages, "
        "56 questions on charts, figures, slides and layout), `sample_corpus` the repository's sample corpus (5 PDFs, "
        "60 questions).",
        retrieval_headline, group=lambda r: retrieval_group(r),
        prefer=("devset", "devset-visual", "sample_corpus", "held-out (93 PDFs)")),
    "ingest": Kind(
        "Ingest speed and memory", "benchmarks/bench_ingest.py",
        "Wall-clock pages/s of the whole `mmrag index` (a fresh index, models included) against "
        "`pymupdf4llm.to_markdown` on the same files in the same run; the peak memory of the whole `mmrag index` "
        "process tree at two corpus sizes (PSS since 2026-12-06: main process, forkserver and parse workers, pages "
        "they share counted once; with the worker memory settings on and off), and seconds per stage and per worker "
        "(`mmrag index --profile`).", ingest_headline, group=ingest_group, plots=ingest_plots,
        prefer=("devset",)),
    "ingest-ab": Kind(
        "Ingest A/B between commits", "benchmarks/bench_ingest_ab.py",
        "`mmrag index --profile` at two commits on the same files, run alternately (base, head, base, head, ...) "
        "so that the machine's drift falls on both: every run's seconds and CPU seconds per process, the means and "
        "head/base ratios. What a single run of bench_ingest.py cannot show on a noisy machine: a change of a few "
        "percent.", ingest_ab_headline),
    "parse": Kind(
        "Parsing alone", "benchmarks/bench_ingest.py --accuracy",
        "`parse_pdf` alone (OCR off and on) against `pymupdf4llm.to_markdown` with the same OCR setting, with "
        "figure and table accuracy against the sample corpus's truth.json.", parse_headline),
    "scale": Kind(
        "Search at scale", "benchmarks/bench_scale.py",
        "Build time, search latency (p50 / p95 ms; query encoding not included) and recall@10 against exact search "
        "at N elements: the text channel on Qdrant Edge (dense and BM25 sides, fused as the query path fuses them), "
        "the image channel in FAISS and in Qdrant, and all channels fused; the pages channel (late interaction: "
        "multivectors of the ColQwen2 shape) by its exact MaxSim scan and two-stage search, with bytes per page. "
        "Series: the channels a run measured.",
        scale_headline, group=lambda r: str(r.setup.get("channels") or ""), summary=scale_summary,
        plots=scale_plots, prefer=("text,image",)),
    "serve": Kind(
        "Serving load", "benchmarks/bench_serve.py",
        "HTTP load on `mmrag serve` (GET /api/search, POST /api/ask) against the same calls in-process, at 1 to 32 "
        "clients, idle and while `mmrag index` adds documents: overhead, latency percentiles, errors. Series: the "
        "corpus served.", serve_headline, group=lambda r: str(r.data["label"]), plots=serve_plots,
        prefer=("devset-4docs",)),
    "faiss-delete": Kind(
        "Deletes in the FAISS image index", "benchmarks/bench_faiss_delete.py",
        "Deleting and replacing one document in an HNSW image index (FaissImageChannel) and the first search after: "
        "tombstones excluded at search (compaction past a share of dead vectors) against a full rebuild (the "
        "behaviour before tombstones, compaction threshold 0), in the same run; search p50 and recall@10 of both.",
        faiss_delete_headline),
    "reader-open": Kind(
        "Reader open beside a writer", "benchmarks/bench_reader_open.py",
        "How long a read-only reader takes to open the Qdrant Edge text store while a writer holds it (it opens a "
        "private copy), against a plain open of the same store.", reader_headline, plots=reader_plots),
    "text-channel": Kind(
        "Text channel", "benchmarks/bench_text_channel.py (and bench_channels.py)",
        "Text channel search on Qdrant Edge (each side, fused, filtered; plain segments and after optimise) against "
        "qdrant-client's local mode, and MiniLM encode throughput.", text_channel_headline,
        plots=text_channel_plots),
    "image-channel": Kind(
        "Image channel", "benchmarks/bench_image_channel.py (and bench_channels.py)",
        "Image encoding throughput (our open_clip pipeline against a bare model loop) and FAISS search through "
        "FaissImageChannel (HNSW against exact flat search).", image_channel_headline, plots=image_channel_plots),
    "ask": Kind(
        "Generator (ask)", "benchmarks/bench_ask.py",
        "Time to first token and tokens/s of the generator (TransformersVLMGenerator) against a bare "
        "`model.generate` on the same tensors.", ask_headline),
    "gpu-image": Kind(
        "Image channel on a GPU", "benchmarks/gpu_image_bench.py",
        "On a GPU machine: our open_clip pipeline against a bare model loop, and brute-force top-10 search with "
        "torch on the GPU against numpy on the CPU.", gpu_headline, plots=image_channel_plots),
    "gpu-pages": Kind(
        "Pages channel encoding", "benchmarks/gpu_pages_bench.py",
        "The pages channel's encoder (ColQwen2: real weights, or random ones of the real shape) in pages/s "
        "against a bare forward loop of the same model over the same batches, and single-query encoding latency.",
        lambda r: pages_encode_headline(r)),
}
README_PLAN = (("retrieval", 4), ("ingest", 1), ("scale", 1), ("faiss-delete", 1), ("serve", 1), ("reader-open", 1),
               ("ask", 1), ("gpu-image", 1), ("text-channel", 1), ("image-channel", 1), ("parse", 1))


def kind_info(kind: str) -> Kind:
    return KINDS.get(kind) or Kind(kind, "", f"Results of kind `{kind}`.")


def page_name(kind: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", kind.lower()).strip("-") or "other"
    return f"{name}-results.md" if name == "index" else f"{name}.md"


# ------------------------------------------------------------------------------------------------------ sections
def machine_text(m: dict[str, Any], long: bool = False) -> str:
    """"2 CPUs (model), 23.5 GB RAM, no GPU" (long: platform, Python, load, conditions too)."""
    parts = []
    if m.get("cpus"):
        parts.append(f"{m['cpus']} CPUs" + (f" ({m['cpu_model']})" if m.get("cpu_model") else ""))
    if m.get("ram_gb"):
        parts.append(f"{fmt(m['ram_gb'])} GB RAM")
    if isinstance(m.get("gpu"), list):
        parts.append(", ".join(f"{g.get('name')} ({fmt(g.get('memory_gb'))} GB)" for g in m["gpu"]) or "no GPU")
    if long:
        parts += [str(m[k]) for k in ("platform",) if m.get(k)]
        if m.get("python"):
            parts.append(f"Python {m['python']}")
        if m.get("load_average"):
            load = f"load average {', '.join(map(fmt, m['load_average']))}"
            if m.get("load_average_end"):
                load += f" at the start, {', '.join(map(fmt, m['load_average_end']))} at the end"
            parts.append(load)
        if m.get("description"):
            parts.append(str(m["description"]))
    elif not parts and m.get("description"):
        parts.append(str(m["description"]))
    return cell_text(", ".join(parts), None) if parts else "not recorded"


def versions_text(v: dict[str, Any]) -> str:
    parts = []
    if v.get("git_commit"):
        parts.append(f"git {str(v['git_commit'])[:10]}" + (" (with local changes)" if v.get("git_dirty") else ""))
    parts += [f"{k} {val}" for k, val in v.items() if k not in ("git_commit", "git_dirty")]
    return cell_text(", ".join(parts), None) if parts else "not recorded"


def inline(value: Any, depth: int = 0) -> str:
    """A setup value on one line."""
    if isinstance(value, dict):
        text = "; ".join(f"{k}: {inline(v, depth + 1)}" for k, v in value.items())
        return f"({text})" if depth else text
    if isinstance(value, list):
        return ", ".join(inline(v, depth + 1) for v in value)
    return fmt(value) if not isinstance(value, str) else value


def short_date(date: str) -> str:
    return date[:16].replace("T", " ") + (" UTC" if "T" in date else "")


def result_section(r: Result, images: dict[str, bytes]) -> list[str]:
    """One result file: what it compared, date, machine, command, versions, then its tables and plots."""
    info = kind_info(r.kind)
    d = r.data
    meta = [["date", short_date(r.date)], ["machine", machine_text(d["machine"], long=True)],
            ["command", f"`{cell_text(str(d['command']), None)}`"],
            ["versions", versions_text(d.get("versions") or {})]]
    if r.setup:
        meta.append(["setup", cell_text(inline(r.setup), None)])
    for key in ("source", "notes"):
        if d.get(key):
            meta.append([key, cell_text(str(d[key]), None)])
    meta.append(["file", f"`benchmarks/results/{r.path.name}`"])
    out = [f"### {r.stem}", "", f"**Compared in the same run:** {' '.join(str(d['compared']).split())}.", ""]
    out += table(["", ""], meta)
    out += info.summary(r)
    for plot in info.plots(r):
        name = f"{r.stem}-{plot.name}.png"
        images[name] = png(plot)
        out += [f"![{plot.title} ({r.stem})](img/{name})", ""]
    out += ["**All figures**", ""] + figure_tables(r.figures)
    return out


@dataclass(eq=False)
class Row:
    """A headline: the newest result of one series of a kind that has a headline figure."""

    kind: str
    group: str
    result: Result
    text: str


def headline_rows(results: list[Result]) -> list[Row]:
    """Per kind (in KINDS order, then the others by name) and per series, the newest result with a headline."""
    kinds = sorted({r.kind for r in results}, key=lambda k: (list(KINDS).index(k) if k in KINDS else len(KINDS), k))
    rows = []
    for kind in kinds:
        info = kind_info(kind)
        seen: dict[str, Row] = {}
        for r in (x for x in results if x.kind == kind and x.kept):  # newest first
            group = info.group(r)
            if group in seen:
                continue
            text = info.headline(r)
            if text is not None:
                seen[group] = Row(kind, group, r, text)
        mine = sorted(seen.values(), key=lambda row: row.group)  # one date: by series name
        rows += sorted(mine, key=lambda row: row.result.sort_key()[0], reverse=True)  # newest date first
    return rows


def kind_page(kind: str, results: list[Result], images: dict[str, bytes]) -> str:
    info = kind_info(kind)
    mine = [r for r in results if r.kind == kind]
    current: list[Result] = []
    groups: set[str] = set()
    for r in mine:  # the newest of each series is current (a variant not kept is history)
        if r.kept and info.group(r) not in groups:
            groups.add(info.group(r))
            current.append(r)
    history = [r for r in mine if r not in current]
    current = sorted(sorted(current, key=info.group), key=lambda r: r.sort_key()[0], reverse=True)
    script = f" Script: `{info.script}`." if info.script else ""
    out = [f"# {info.title}", "", info.about + script, "",
           f"Generated by `benchmarks/render_pages.py` from the {len(mine)} result file(s) "
           f"`benchmarks/results/{kind}-*.json`: every figure on this page is in one of them. Each table compares "
           "only what its own run measured. [All benchmarks](index.md)", ""]
    out += ["## Current", "", "The newest result" + (" of each series" if len(groups) > 1 else "") + ".", ""]
    for r in current:
        out += result_section(r, images)
    if history:
        out += ["## History", "", "Older results, newest first.", ""]
        for r in history:
            out += result_section(r, images)
    return "\n".join(out).rstrip() + "\n"


def headline_table(rows: list[Row], link: Callable[[str], str], columns: tuple[str, ...]) -> list[str]:
    body = []
    for row in rows:
        info = kind_info(row.kind)
        name = info.title + (f", {row.group.replace(',', ' + ')}" if row.group else "")
        cells = {"benchmark": f"[{cell_text(name)}]({link(page_name(row.kind))})",
                 "figure": cell_text(row.text),
                 "date": short_date(row.result.date),
                 "machine": machine_text(row.result.data["machine"]),
                 "result": f"[{row.result.stem}]({link(page_name(row.kind))}#{anchor(row.result.stem)})"}
        body.append([cells[c] for c in columns])
    return table(list(columns), body)


def index_page(results: list[Result]) -> str:
    rows = headline_rows(results)
    kinds = list(dict.fromkeys(r.kind for r in sorted(
        results, key=lambda x: (list(KINDS).index(x.kind) if x.kind in KINDS else len(KINDS), x.kind))))
    out = ["# Benchmarks", "",
           "Every figure on these pages comes from a result file in `benchmarks/results/`: one JSON file per run "
           "(kind, date, machine, package versions, command, what the run compared, figures), written by the "
           "benchmark scripts through `benchmarks/results.py`. `python benchmarks/render_pages.py` makes these "
           "pages, their plots and the README's figures table from those files, and a test fails when they differ, "
           "so no figure is typed by hand. Results from before the files existed were transcribed from the README "
           "and code comments of the time, and say so (`source`). A table compares only what one run measured; "
           "figures of different runs, machines or loads do not compare.", "",
           "## Headline figures", "", "The newest result of each benchmark (and series) that has a headline figure.",
           ""]
    out += headline_table(rows, lambda page: page, ("benchmark", "figure", "date", "machine", "result"))
    out += ["## Pages", ""]
    body = []
    for kind in kinds:
        info = kind_info(kind)
        mine = [r for r in results if r.kind == kind]
        body.append([f"[{cell_text(info.title)}]({page_name(kind)})", cell_text(info.script) or "—",
                     str(len(mine)), short_date(mine[0].date)])
    out += table(["page", "script", "results", "newest"], body)
    out += ["## Adding a result", "",
            "Run a benchmark script (each writes `benchmarks/results/<kind>-<date>-<label>.json`; `--results-dir` "
            "puts it elsewhere), then `python benchmarks/render_pages.py`, and commit the result file with the pages. "
            "An older result stays as history on its page.", ""]
    return "\n".join(out).rstrip() + "\n"


def readme_rows(results: list[Result]) -> list[Row]:
    rows = headline_rows(results)
    chosen: list[Row] = []
    for kind, n in README_PLAN:
        mine = [r for r in rows if r.kind == kind]  # newest first
        preferred = [r for p in kind_info(kind).prefer for r in mine if r.group == p]
        chosen += list(dict.fromkeys([*preferred, *mine]))[:n] if preferred else mine[:n]
    return chosen[:README_ROWS]


def readme_block(results: list[Result], readme: Path, docs: Path) -> str:
    """What goes between the README's markers: at most README_ROWS headline rows, links relative to the README."""
    rel = Path(os.path.relpath(docs, readme.parent)).as_posix()
    out = ["<!-- made by benchmarks/render_pages.py from benchmarks/results/*.json: edit those and run it -->", ""]
    out += headline_table(readme_rows(results), lambda page: f"{rel}/{page}", ("benchmark", "figure", "date",
                                                                               "machine"))
    out += [f"Every result, with its command, machine and what it was compared with in the same run: "
            f"[benchmark pages]({rel}/index.md).", ""]
    return "\n".join(out)


def replace_block(text: str, block: str) -> str | None:
    """The README text with its figures block replaced; None when it has no (well-formed) block."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[: start + len(START)] + "\n" + block + text[end:]


# ------------------------------------------------------------------------------------------------------ output
def render(results_dir: Path = RESULTS) -> dict[str, bytes]:
    """Every page and image, by path relative to the docs folder (img/... for images)."""
    results = load_results(results_dir)
    images: dict[str, bytes] = {}
    files: dict[str, bytes] = {"index.md": index_page(results).encode()}
    for kind in dict.fromkeys(r.kind for r in results):
        files[page_name(kind)] = kind_page(kind, results, images).encode()
    files.update({f"img/{name}": data for name, data in sorted(images.items())})
    return dict(sorted(files.items()))


def owned_files(docs: Path) -> set[str]:
    """The files of the docs folder this script writes (and may delete): *.md and img/*.png."""
    if not docs.is_dir():
        return set()
    return {p.relative_to(docs).as_posix() for p in [*docs.glob("*.md"), *docs.glob("img/*.png")]}


def same(name: str, a: bytes, b: bytes) -> bool:
    """PNGs are the same when made from the same data (a matplotlib upgrade may change their bytes)."""
    if name.endswith(".png"):
        return png_source(a) is not None and png_source(a) == png_source(b)
    return a == b


def differences(files: dict[str, bytes], docs: Path) -> list[str]:
    out = []
    for name, data in files.items():
        path = docs / name
        if not path.is_file():
            out.append(f"missing: {name}")
        elif not same(name, data, path.read_bytes()):
            out.append(f"differs: {name}")
    out += [f"not made from any result: {name}" for name in sorted(owned_files(docs) - set(files))]
    return out


def write(files: dict[str, bytes], docs: Path) -> None:
    for name in owned_files(docs) - set(files):
        (docs / name).unlink()
    for name, data in files.items():
        path = docs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or not same(name, data, path.read_bytes()):
            path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of result JSON files")
    ap.add_argument("--docs", type=Path, default=DOCS, help="folder the pages go to")
    ap.add_argument("--readme", default=str(README), help="README whose figures block is rewritten ('' for none)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when anything is out of date")
    args = ap.parse_args(argv)
    files = render(args.results)
    readme = Path(args.readme) if args.readme else None
    new_readme = None
    if readme is not None and readme.is_file():
        text = readme.read_text()
        new_readme = replace_block(text, readme_block(load_results(args.results), readme, args.docs))
        if new_readme is None:
            print(f"{readme}: no {START} ... {END} block; left alone", file=sys.stderr)
    if args.check:
        problems = differences(files, args.docs)
        if new_readme is not None and readme is not None and new_readme != readme.read_text():
            problems.append(f"differs: {readme} (its figures block)")
        for line in problems:
            print(line)
        if problems:
            print("out of date: run `python benchmarks/render_pages.py`", file=sys.stderr)
        return 1 if problems else 0
    write(files, args.docs)
    if new_readme is not None and readme is not None and new_readme != readme.read_text():
        readme.write_text(new_readme)
    print(f"wrote {len(files)} files to {args.docs}" + (" and the README's figures block" if new_readme else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
