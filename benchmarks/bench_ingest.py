"""Ingest speed of parse_pdf (OCR on and off) next to pymupdf4llm.to_markdown, plus accuracy against truth.json.

    python benchmarks/bench_ingest.py [PATHS...] [--json] [--layout] [--truth sample_corpus/truth.json]

Needs mmrag installed (`pip install -e .`): pipelines/, indexes/ and cli/ import as mmrag.* only through it.

Speed: pages per second over all PDFs, each PDF parsed once per row after one warm-up pass (so OCR/ONNX model
loading is not counted). Accuracy (when a truth file is found): figure and table recall / spurious rate with a
box-IoU match on the same page, caption links, table shape, continuation links, scanned pages, running headers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

from mmrag.ingest import ParsedDocument, load_ocr, parse_pdf
from mmrag.settings import IngestSettings

IOU_MATCH = 0.5


def _pdfs(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.glob("*.pdf")) if p.is_dir() else [p]
    return out


def _store(data: bytes, ext: str) -> str:
    return f"{len(data)}.{ext}"


def _pages(files: list[Path]) -> int:
    import pymupdf

    return sum(pymupdf.open(f).page_count for f in files)


def _time_parse(files: list[Path], settings: IngestSettings) -> tuple[float, dict[str, ParsedDocument]]:
    ocr = load_ocr(settings.ocr)
    parse_pdf(files[0], files[0].name, settings, _store, ocr=ocr)  # warm-up: model loading, caches
    t0 = time.perf_counter()
    parsed = {f.name: parse_pdf(f, f.name, settings, _store, ocr=ocr) for f in files}
    return time.perf_counter() - t0, parsed


@contextlib.contextmanager
def _quiet_stdout():
    """Silence file descriptor 1 itself: some of pymupdf4llm's notes bypass sys.stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            with contextlib.redirect_stdout(devnull):
                yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _time_pymupdf4llm(files: list[Path], use_ocr: bool) -> float:
    import pymupdf4llm

    with _quiet_stdout():  # it prints progress notes, which would spoil --json
        pymupdf4llm.to_markdown(str(files[0]), show_progress=False, use_ocr=use_ocr)
        t0 = time.perf_counter()
        for f in files:
            pymupdf4llm.to_markdown(str(f), show_progress=False, use_ocr=use_ocr)
        return time.perf_counter() - t0


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _match(truth: list[dict], found: list, kind: str) -> list[tuple[dict, object]]:
    pairs, used = [], set()
    for t in truth:
        best, best_iou = None, IOU_MATCH
        for e in found:
            if e.page == t["page"] and e.id not in used and _iou(t["bbox"], list(e.bbox)) >= best_iou:
                best, best_iou = e, _iou(t["bbox"], list(e.bbox))
        if best is not None:
            used.add(best.id)
            pairs.append((t, best))
    return pairs


def accuracy(parsed: dict[str, ParsedDocument], truth: dict) -> dict[str, float]:
    """Recall, spurious rate and link accuracy of figures and tables against the truth file."""
    tot = dict.fromkeys(
        ["fig_truth", "fig_found", "fig_hit", "fig_cap", "fig_type", "tab_truth", "tab_found", "tab_hit", "tab_cap",
         "tab_shape", "tab_cont_truth", "tab_cont_ok", "scan_truth", "scan_ok", "header_leaks"], 0)
    for name, t in truth["docs"].items():
        if name not in parsed:
            continue
        els = parsed[name].elements
        figs = [e for e in els if e.kind == "figure"]
        tabs = [e for e in els if e.kind == "table"]
        fp = _match(t["figures"], figs, "figure")
        tp = _match(t["tables"], tabs, "table")
        tot["fig_truth"] += len(t["figures"])
        tot["fig_found"] += len(figs)
        tot["fig_hit"] += len(fp)
        tot["fig_cap"] += sum(1 for tr, e in fp if e.caption.strip() == tr["caption"].strip())
        tot["fig_type"] += sum(1 for tr, e in fp if e.meta.get("figure_type") == tr["type"])
        tot["tab_truth"] += len(t["tables"])
        tot["tab_found"] += len(tabs)
        tot["tab_hit"] += len(tp)
        tot["tab_cap"] += sum(1 for tr, e in tp if e.caption.strip() == tr["caption"].strip())
        tot["tab_shape"] += sum(1 for tr, e in tp if (e.meta["n_rows"], e.meta["n_cols"]) ==
                                (tr["n_rows"], tr["n_cols"]))
        ids = [e.id for e in tabs]
        for tr, e in tp:
            if tr.get("continued"):
                tot["tab_cont_truth"] += 1
                tot["tab_cont_ok"] += int(e.meta.get("continues") in ids)
        scanned = set(t.get("scanned_pages", []))
        tot["scan_truth"] += len(scanned)
        tot["scan_ok"] += len(scanned & set(parsed[name].ocr_pages))
        header = t.get("header_text")
        if header:
            tot["header_leaks"] += sum(1 for e in els if e.kind == "text" and header in e.text)
    return {
        **tot,
        "figure_recall": tot["fig_hit"] / max(tot["fig_truth"], 1),
        "figure_spurious": (tot["fig_found"] - tot["fig_hit"]) / max(tot["fig_found"], 1),
        "table_recall": tot["tab_hit"] / max(tot["tab_truth"], 1),
        "table_spurious": (tot["tab_found"] - tot["tab_hit"]) / max(tot["tab_found"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", default=["sample_corpus"])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--layout", action="store_true", help="add rows with use_layout=True (pymupdf.layout)")
    ap.add_argument("--truth", default=None, help="truth.json (default: <first dir>/truth.json when present)")
    args = ap.parse_args(argv)
    files = _pdfs(args.paths)
    if not files:
        ap.error("no PDFs found")
    pages = _pages(files)
    rows: list[dict] = []
    base = {}
    for use_ocr in (False, True):
        base[use_ocr] = _time_pymupdf4llm(files, use_ocr)
        rows.append({"name": f"pymupdf4llm.to_markdown ocr={'on' if use_ocr else 'off'}", "seconds": base[use_ocr],
                     "pages_per_s": pages / base[use_ocr]})
    # each parse_pdf row is compared with the pymupdf4llm row of the same OCR setting
    configs = [("parse_pdf ocr=off", IngestSettings(ocr="none")), ("parse_pdf ocr=auto", IngestSettings(ocr="auto"))]
    if args.layout:
        configs.append(("parse_pdf ocr=off use_layout", IngestSettings(ocr="none", use_layout=True)))
    truth_path = Path(args.truth) if args.truth else Path(args.paths[0]) / "truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.is_file() else None
    for name, settings in configs:
        seconds, parsed = _time_parse(files, settings)
        t4llm = base[settings.ocr != "none"]
        row = {"name": name, "seconds": seconds, "pages_per_s": pages / seconds,
               "ratio_vs_pymupdf4llm": t4llm / seconds,
               "elements": sum(len(p.elements) for p in parsed.values()),
               "warnings": sum(len(p.warnings) for p in parsed.values())}
        if truth is not None:
            row["accuracy"] = accuracy(parsed, truth)
        rows.append(row)
    report = {"files": len(files), "pages": pages, "rows": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{len(files)} files, {pages} pages")
    print(f"{'':32} {'s':>7} {'pages/s':>8} {'x 4llm':>7}  (x 4llm: vs pymupdf4llm with the same OCR setting)")
    for r in rows:
        ratio = f"{r['ratio_vs_pymupdf4llm']:.2f}" if "ratio_vs_pymupdf4llm" in r else "-"
        print(f"{r['name']:32} {r['seconds']:7.2f} {r['pages_per_s']:8.1f} {ratio:>7}")
    for r in rows:
        if "accuracy" in r:
            a = r["accuracy"]
            print(
                f"{r['name']}: figures recall {a['figure_recall']:.2f} spurious {a['figure_spurious']:.2f} "
                f"(caption {a['fig_cap']}/{a['fig_hit']}, type {a['fig_type']}/{a['fig_hit']}); tables recall "
                f"{a['table_recall']:.2f} spurious {a['table_spurious']:.2f} (caption {a['tab_cap']}/{a['tab_hit']}, "
                f"shape {a['tab_shape']}/{a['tab_hit']}, continued {a['tab_cont_ok']}/{a['tab_cont_truth']}); "
                f"scanned {a['scan_ok']}/{a['scan_truth']}; header leaks {a['header_leaks']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
