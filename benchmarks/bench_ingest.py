"""Ingest speed and memory of the whole `mmrag index` next to pymupdf4llm.to_markdown, on the same real files.

    python benchmarks/bench_ingest.py [--pdfs FILES_OR_DIRS...] [--workers 1,2,all] [--json]
        [--memory-pages 20,100] [--memory-files 2,12 [--memory-pdfs FILES_OR_DIRS...]] [--memory-off]
        [--memory-repeats 3]   # each memory size run 3 times, the median run reported (the peak varies run to run)
        [--keep DIR]   # e.g. --pdfs ../shared/devset/pdfs --keep .devset/idx_all, then devset.py --reuse
        [--search-sizes 10000,100000,1000000]   # and search latency per channel at those sizes (bench_scale.py)
    python benchmarks/bench_ingest.py --accuracy [PATHS...]   # parse_pdf alone vs truth.json (sample corpus)

Needs mmrag installed (`pip install -e .`): pipelines/, indexes/ and cli/ import as mmrag.* only through it.

Speed: wall-clock pages/s of `mmrag index` (a fresh index each time: parse, crops, tables, OCR where needed,
text and image embeddings, model loading included) with 1, 2 and all workers, and of a process running
`pymupdf4llm.to_markdown` (its defaults) over the same files; ratios are against that baseline, from the same
run. Files pymupdf4llm cannot read are left out of its pages/s (and listed). Each `mmrag index` runs with
`--profile`: seconds per stage for the main process and each parse worker (the table of the last run is printed),
and the time from the command's start to the first parsed page.
Memory: the peak PSS of the whole `mmrag index` process tree (main, forkserver, parse workers; a page shared by
several processes counts once), sampled every 0.2 s from /proc/<pid>/smaps_rollup, at two corpus sizes: the first
N pages of the files as one PDF (--memory-pages) and/or the first N files (--memory-files); --memory-off measures
each size again with IngestSettings' worker memory settings off, in the same run.
Search (--search-sizes): `bench_scale.py` in its own process, after the ingest runs, and its p50/p95 per channel
and fused at each size in the same report, so one run prints ingest, memory and search figures.
Default files: four dev-set PDFs (~280 pages) from ../shared/devset/pdfs.

Each run writes its result to benchmarks/results/ (`--results-dir`; kind `ingest`, or `parse` for --accuracy) in
the envelope of benchmarks/results.py; benchmarks/render_pages.py makes the benchmark pages from those files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from results import add_results_dir_option, machine, slug, write_result

from mmrag.ingest import ParsedDocument, load_ocr, parse_pdf
from mmrag.settings import IngestSettings, usable_cores

IOU_MATCH = 0.5
ROOT = Path(__file__).resolve().parents[1]
# ../shared/devset beside the checkout (or two levels up, from a git worktree)
DEVSET = next((p / "shared" / "devset" / "pdfs" for p in (ROOT.parent, ROOT.parent.parent)
               if (p / "shared" / "devset" / "pdfs").is_dir()), ROOT.parent / "shared" / "devset" / "pdfs")
DEFAULT_PDFS = ["AMCOR_2023Q4_EARNINGS.pdf", "JOHNSON_JOHNSON_2023Q2_EARNINGS.pdf", "ADOBE_2022_10K.pdf",
                "PFIZER_2021_10K.pdf"]


def _pdfs(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.glob("*.pdf")) if p.is_dir() else [p]
    return out


def _label(paths: list[str] | None, files: list[Path]) -> str:
    """A result label from what was given: 4filings (the default files), a folder's name, else a count."""
    if not paths:
        return "4filings"
    if len(paths) == 1 and Path(paths[0]).is_dir():
        folder = Path(paths[0]).resolve()
        return slug(folder.parent.name if folder.name == "pdfs" else folder.name)  # ../shared/devset/pdfs: devset
    return f"{len(files)}pdfs" if len(files) > 1 else slug(files[0].stem)


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


def accuracy_main(argv: list[str]) -> int:
    """parse_pdf alone (OCR off and on) vs pymupdf4llm, with figure/table accuracy against truth.json."""
    ap = argparse.ArgumentParser(description="parse_pdf speed and accuracy")
    ap.add_argument("paths", nargs="*", default=["sample_corpus"])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--layout", action="store_true", help="add rows with use_layout=True (pymupdf.layout)")
    ap.add_argument("--truth", default=None, help="truth.json (default: <first dir>/truth.json when present)")
    ap.add_argument("--label", default=None, help="name in the result file (default: from the paths)")
    add_results_dir_option(ap)
    args = ap.parse_args(argv)
    files = _pdfs(args.paths)
    if not files:
        ap.error("no PDFs found")
    started = machine()
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
    if args.results_dir:
        compared = ("`parse_pdf` alone (OCR off, OCR auto" + (", use_layout" if args.layout else "") + ") against "
                    "`pymupdf4llm.to_markdown` with the same OCR setting, on the same files in the same run"
                    + ("; figure and table accuracy against truth.json" if truth is not None else ""))
        out = write_result("parse", args.label or _label(args.paths, files), report, compared=compared,
                           setup={"paths": args.paths, "truth": str(truth_path) if truth is not None else None},
                           machine_info=started, results_dir=args.results_dir)
        print(f"wrote {out}", file=sys.stderr)
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


# -------------------------------------------------------------------------------------------------------------
# the whole `mmrag index` vs pymupdf4llm, and the tree's peak memory at two corpus sizes
# -------------------------------------------------------------------------------------------------------------

BASELINE = """
import sys, json, time, contextlib, io
t0 = time.perf_counter()
import pymupdf4llm
ok, failed = [], []
for f in sys.argv[1:]:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            pymupdf4llm.to_markdown(f, show_progress=False)
        ok.append(f)
    except Exception as exc:
        failed.append([f, f"{type(exc).__name__}: {exc}"[:200]])
print(json.dumps({"seconds": time.perf_counter() - t0, "ok": ok, "failed": failed}))
"""


class TreeMemory:
    """Peak memory of a process and all its descendants (main, forkserver, parse workers), sampled every
    `interval` s from /proc/<pid>/smaps_rollup: PSS (a page shared by n processes counts 1/n in each, so the
    sum is what the tree really holds) and RSS (shared pages counted in every process), and the PSS of each
    role (main, forkserver, workers) at the moment the tree's PSS peaked."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak_pss = self.peak_rss = 0
        self.at_peak: dict[str, float] = {}
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="tree-memory")

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)

    def sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        pss = rss = 0
        roles: dict[str, float] = {}
        for p in procs:
            mem = _smaps_rollup(p.pid)
            if not mem:
                continue
            pss += mem["Pss"]
            rss += mem["Rss"]
            role = "main" if p.pid == self.pid else _role(p, self.pid)
            roles[role] = roles.get(role, 0.0) + mem["Pss"] / 2**20
        self.samples += 1
        self.peak_rss = max(self.peak_rss, rss)
        if pss > self.peak_pss:
            self.peak_pss, self.at_peak = pss, roles

    def figures(self) -> dict:
        return {"peak_pss_mb": self.peak_pss / 2**20, "peak_rss_mb": self.peak_rss / 2**20,
                "pss_at_peak_mb": {k: round(v, 1) for k, v in sorted(self.at_peak.items())}, "samples": self.samples}


def _smaps_rollup(pid: int) -> dict[str, int]:
    """Rss and Pss of a process in bytes (empty when it is gone or unreadable)."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    out[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return out


def _role(proc: object, root: int) -> str:
    """What a descendant is: the forkserver (a child of the root), a parse worker (forked by it) or other
    (multiprocessing's resource tracker)."""
    import psutil

    try:
        cmd = " ".join(proc.cmdline())  # type: ignore[attr-defined]
        parent = proc.ppid()  # type: ignore[attr-defined]
    except psutil.Error:
        return "other"
    if "forkserver" not in cmd:
        return "other"
    return "forkserver" if parent == root else "workers"


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, dict, subprocess.CompletedProcess]:
    """Wall seconds, the tree's peak memory (TreeMemory.figures) and the result of a command; `started_at` in the
    figures is when it was started (time.time())."""
    started_at = time.time()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with TreeMemory(proc.pid) as memory:
        stdout, stderr = proc.communicate()
        seconds = time.perf_counter() - t0
    return seconds, {**memory.figures(), "started_at": started_at}, \
        subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


# The worker memory settings of IngestSettings, all off (64 OCR read slots: workers never take turns)
MEMORY_OFF = {"ingest": {"release_memory": False, "worker_max_pages": 0, "worker_max_rss_mb": 0,
                          "mupdf_store_shrink": 0, "ocr_max_pixels": 0, "ocr_det_max_side": 0,
                          "ocr_trim_heap": False, "ocr_rec_batch": 0, "ocr_free_before_pixels": 0, "ocr_det_rows": 0,
                          "ocr_concurrency": 64, "heap_mmap_kb": 0}}


def _mmrag(
    files: list[Path], workers: int | None, workdir: Path, extra: list[str] | None = None, keep: Path | None = None
) -> dict:
    index = workdir / f"idx-{workers}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "mmrag.cli.app", "index", *map(str, files), "--index", str(index), "--json",
           "--profile", *(extra or [])]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    seconds, memory, out = _run(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        summary = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"mmrag index failed ({out.returncode}): {out.stderr[-2000:]}") from None
    if keep is not None:  # e.g. for `benchmarks/devset.py --out DIR --reuse` to score
        shutil.rmtree(keep, ignore_errors=True)
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(index, keep)
    shutil.rmtree(index, ignore_errors=True)
    profile = summary.get("profile") or {}
    first = None  # seconds from the command's start to the first parsed page coming back from a worker
    if profile.get("first_page_s") is not None:
        first = profile["started_at"] + profile["first_page_s"] - memory["started_at"]
    return {"seconds": seconds, "peak_pss_mb": memory["peak_pss_mb"], "peak_rss_mb": memory["peak_rss_mb"],
            "pss_at_peak_mb": memory["pss_at_peak_mb"], "first_page_s": first, "pages": summary["pages"],
            "failed": summary["failed"], "elements": summary["elements"], "channels": summary["channels"],
            "profile": profile}


def _median_run(runs: list[dict]) -> dict:
    """Of several runs of one memory row, the one with the median tree peak (the upper middle of an even count),
    with every run's peak in run order (`peak_pss_runs_mb`): the tree's peak is the largest sum over time, so it
    moves with how the processes' own peaks happen to coincide (12 short reports: 952-1,139 MB at the same or
    neighbouring settings)."""
    chosen = dict(sorted(runs, key=lambda r: r["peak_pss_mb"])[len(runs) // 2])
    chosen["peak_pss_runs_mb"] = [r["peak_pss_mb"] for r in runs]
    return chosen


def _memory_rows(
    corpora: list[tuple[str, list[Path]]], work: Path, with_off: bool, repeats: int = 1
) -> list[dict]:
    """Tree memory of `mmrag index` on each corpus, with the worker memory settings on (the defaults) and, with
    with_off, off (MEMORY_OFF), one after the other in this run; each row the median of `repeats` runs."""
    configs = [("on", None)]
    if with_off:
        off = work / "memory-off.json"
        off.write_text(json.dumps(MEMORY_OFF))
        configs.append(("off", off))
    rows = []
    for what, corpus in corpora:
        for setting, config in configs:
            runs = []
            for _ in range(max(1, repeats)):
                row = _mmrag(corpus, None, work, extra=["--config", str(config)] if config else None)
                workers = {k: v for k, v in row["profile"].items() if k.startswith("worker ")}
                runs.append({"corpus": what, "files": len(corpus), "pages": row["pages"], "memory_settings": setting,
                             "peak_pss_mb": row["peak_pss_mb"], "peak_rss_mb": row["peak_rss_mb"],
                             "pss_at_peak_mb": row["pss_at_peak_mb"], "seconds": row["seconds"],
                             "worker_processes": len(workers),
                             "worker_peak_rss_mb": max((w["peak_rss_mb"] for w in workers.values()), default=0.0)})
            rows.append(_median_run(runs))
    return rows


def _first_pages(files: list[Path], n: int, out: Path) -> Path:
    """One PDF made of the first n pages of the files, in order."""
    import pymupdf

    doc = pymupdf.open()
    for f in files:
        if doc.page_count >= n:
            break
        with pymupdf.open(f) as src:
            doc.insert_pdf(src, to_page=min(src.page_count, n - doc.page_count) - 1)
    doc.save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--accuracy" in argv:
        return accuracy_main([a for a in argv if a != "--accuracy"])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdfs", nargs="*", default=None, help="files or folders (default: 4 dev-set PDFs)")
    ap.add_argument("--workers", default="1,2,all", help="worker counts to time (all: one per CPU core)")
    ap.add_argument("--memory-pages", "--rss-pages", dest="memory_pages", default="20,100",
                    help="two corpus sizes (the first N pages of the files, as one PDF) for the tree's peak PSS; '' "
                         "to skip")
    ap.add_argument("--memory-files", default="",
                    help="two corpus sizes in files (the first N of --memory-pdfs, else of --pdfs), e.g. 2,12")
    ap.add_argument("--memory-pdfs", nargs="*", default=None, help="files or folders for --memory-files")
    ap.add_argument("--memory-off", action="store_true",
                    help="also measure each memory size with the worker memory settings off (before/after)")
    ap.add_argument("--memory-repeats", type=int, default=1,
                    help="runs per memory size; each row is the run with the median tree peak (all peaks listed)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the index of the last --workers run here (e.g. .devset/idx_all, for devset.py --reuse)")
    ap.add_argument("--search-sizes", default="",
                    help="also run bench_scale.py at these element counts (e.g. 10000,100000,1000000: hours at 1M)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--label", default=None, help="name in the result file (default: from --pdfs)")
    add_results_dir_option(ap)
    args = ap.parse_args(argv)
    files = _pdfs(args.pdfs) if args.pdfs else [DEVSET / n for n in DEFAULT_PDFS]
    files = [f for f in files if f.is_file()]
    if not files:
        ap.error("no PDFs found (pass --pdfs)")
    started = machine()
    cores = usable_cores()
    counts: list[int] = []
    for w in args.workers.split(","):
        if not w.strip():
            continue
        n = cores if w.strip() == "all" else int(w)
        if n not in counts:
            counts.append(n)
    pages = {f: _pages([f]) for f in files}
    total = sum(pages.values())
    report: dict = {"files": [f.name for f in files], "pages": total, "cores": cores, "rows": []}

    b_seconds, b_memory, out = _run([sys.executable, "-c", BASELINE, *map(str, files)])
    base = json.loads(out.stdout.strip().splitlines()[-1])
    b_pages = sum(pages[Path(f)] for f in base["ok"])
    b_rate = b_pages / base["seconds"]
    report["baseline"] = {"name": "pymupdf4llm.to_markdown", "seconds": base["seconds"], "pages": b_pages,
                          "pages_per_s": b_rate, "peak_pss_mb": b_memory["peak_pss_mb"],
                          "peak_rss_mb": b_memory["peak_rss_mb"], "failed": base["failed"]}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        for n in counts:
            row = _mmrag(files, n, work, keep=args.keep if n == counts[-1] else None)
            row.update(name=f"mmrag index --workers {n}", workers=n, pages_per_s=total / row["seconds"])
            row["ratio_vs_pymupdf4llm"] = row["pages_per_s"] / b_rate
            report["rows"].append(row)
        corpora: list[tuple[str, list[Path]]] = []
        for n in [int(x) for x in args.memory_pages.split(",") if x.strip()][:2]:
            corpora.append((f"first {n} pages", [_first_pages(files, n, work / f"first-{n}.pdf")]))
        pool = _pdfs(args.memory_pdfs) if args.memory_pdfs else files
        for n in [int(x) for x in args.memory_files.split(",") if x.strip()][:2]:
            corpora.append((f"{n} files", [pool[i % len(pool)] for i in range(n)] if n > len(pool) else pool[:n]))
        if corpora:
            report["memory"] = _memory_rows(corpora, work, args.memory_off, args.memory_repeats)
            report["memory_growth"] = _growth(report["memory"])
    if args.search_sizes:
        report["search"] = _search_at_scale(args.search_sizes, args.results_dir)
    if args.results_dir:
        compared = (f"the whole `mmrag index` (a fresh index, models included) with "
                    f"{', '.join(str(n) for n in counts)} worker(s) against `pymupdf4llm.to_markdown` (its defaults) "
                    f"over the same {len(files)} files in the same run; seconds per stage from `mmrag index --profile`")
        if "memory" in report:
            compared += ("; the peak PSS of the `mmrag index` process tree (sampled every 0.2 s) on "
                         + " and ".join(dict.fromkeys(r["corpus"] for r in report["memory"]))
                         + (", worker memory settings on and off" if args.memory_off else ""))
        if "search" in report:
            compared += f"; search latency per channel at {args.search_sizes} elements (bench_scale.py, own process)"
        out = write_result("ingest", args.label or _label(args.pdfs, files), report, compared=compared,
                           setup={"workers": args.workers, "memory_pages": args.memory_pages,
                                  "memory_files": args.memory_files, "memory_pdfs": args.memory_pdfs,
                                  "memory_off": args.memory_off, "memory_repeats": args.memory_repeats,
                                  "keep": str(args.keep) if args.keep else None},
                           machine_info=started, results_dir=args.results_dir)
        print(f"wrote {out}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print_report(report, files)
    return 0


def _growth(rows: list[dict]) -> dict[str, float]:
    """Peak PSS of the larger corpus over the smaller one, per kind of corpus and memory setting."""
    out = {}
    for kind in ("pages", "files"):
        for setting in ("on", "off"):
            pair = [r for r in rows if r["corpus"].endswith(kind) and r["memory_settings"] == setting]
            if len(pair) == 2 and pair[0]["peak_pss_mb"]:
                out[f"{kind}, settings {setting}"] = pair[1]["peak_pss_mb"] / pair[0]["peak_pss_mb"]
    return out


def _print_report(report: dict, files: list[Path]) -> None:
    from mmrag.pipelines.ingest import profile_table

    b = report["baseline"]
    print(f"{len(files)} files, {report['pages']} pages, {report['cores']} cores; the whole `mmrag index` (fresh "
          "index, models included); memory: peak of the process tree, PSS (RSS)")
    print(f"{'':34} {'s':>7} {'pages/s':>8} {'x 4llm':>7} {'1st page':>9} {'peak PSS (RSS)':>17}")
    print(f"{b['name']:34} {b['seconds']:7.1f} {b['pages_per_s']:8.2f} {'1.00':>7} {'':>9} "
          f"{b['peak_pss_mb']:6.0f} ({b['peak_rss_mb']:.0f}) MB"
          + (f"  (could not read {len(b['failed'])} file(s): {', '.join(Path(f).name for f, _ in b['failed'])})"
             if b["failed"] else ""))
    for r in report["rows"]:
        first = f"{r['first_page_s']:.1f}s" if r.get("first_page_s") is not None else "-"
        print(f"{r['name']:34} {r['seconds']:7.1f} {r['pages_per_s']:8.2f} {r['ratio_vs_pymupdf4llm']:7.2f} "
              f"{first:>9} {r['peak_pss_mb']:6.0f} ({r['peak_rss_mb']:.0f}) MB")
    if report.get("memory"):
        print("peak memory of the `mmrag index` process tree (PSS; main / forkserver / workers at the peak):")
        for m in report["memory"]:
            roles = " / ".join(f"{m['pss_at_peak_mb'].get(k, 0):.0f}" for k in ("main", "forkserver", "workers"))
            print(f"  {m['corpus']:18} {m['pages']:5} pages, worker memory settings {m['memory_settings']:3}: "
                  f"{m['peak_pss_mb']:6.0f} MB PSS ({m['peak_rss_mb']:.0f} RSS; {roles}), {m['worker_processes']} "
                  f"worker process(es), largest worker peak RSS {m['worker_peak_rss_mb']:.0f} MB, {m['seconds']:.0f} s"
                  + (f"; median of {len(runs)} runs: {', '.join(f'{p:.0f}' for p in runs)} MB"
                     if len(runs := m.get("peak_pss_runs_mb") or []) > 1 else ""))
        for what, g in report["memory_growth"].items():
            print(f"  growth ({what}): {g:.2f}x")
    if report["rows"] and report["rows"][-1].get("profile"):
        r = report["rows"][-1]
        header, rows = profile_table(r["profile"])
        print(f"seconds per stage, `{r['name']}` (mmrag index --profile):")
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        for line in [header, *rows]:
            print("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(line, widths))))
    if "search" in report:
        _print_search(report["search"])


def _search_at_scale(sizes: str, results_dir: str = "") -> dict:
    """bench_scale.py --json at these sizes, in its own process (its data and indexes stay out of this one); it
    writes its own result file (kind scale) too."""
    cmd = [sys.executable, str(Path(__file__).with_name("bench_scale.py")), "--sizes", sizes, "--json",
           "--results-dir", results_dir]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # its progress lines go to our stderr
    if out.returncode != 0:
        raise SystemExit(f"bench_scale.py failed ({out.returncode})")
    return json.loads(out.stdout)


def search_rows(scale: dict) -> list[tuple[str, str, str]]:
    """(elements, what, 'p50 / p95 ms') rows from a bench_scale.py report: each channel, HNSW where it was built."""
    rows = []

    def ms(t: dict) -> str:
        return f"{t['p50_ms']:.2f} / {t['p95_ms']:.2f}"

    def segments(r: dict) -> tuple[str, str]:
        """Which figures to show (after optimise when it ran) and what the shard searched then."""
        if "hnsw" not in r:
            return "plain", "exact, plain segments"
        shard = r.get("shard", {})
        built = shard.get("plain_points", 0) < shard.get("points", 1)
        return "hnsw", "optimised, HNSW" if built else "optimised, too small for HNSW"

    for n, r in scale["sizes"].items():
        size = f"{int(n):,}"
        text = r["text"]
        seg, how = segments(text)
        for side in ("dense", "lexical", "fused", "fused_filtered"):
            rows.append((size, f"text:{side} ({how})", ms(text[seg][side])))
        if "image_faiss" in r:
            rows.append((size, "image: FAISS flat", ms(r["image_faiss"]["flat"])))
            rows.append((size, f"image: FAISS HNSW (recall@10 {r['image_faiss']['hnsw_recall@10']})",
                         ms(r["image_faiss"]["hnsw"])))
            q = r["image_qdrant"]
            qseg, how = segments(q)
            rows.append((size, f"image: Qdrant ({how}, recall@10 {q[f'{qseg}_recall@10']})", ms(q[qseg])))
            rows.append((size, "all channels fused, image in FAISS", ms(r["fused_faiss"])))
            rows.append((size, "all channels fused, image in Qdrant", ms(r["fused_qdrant"])))
    return rows


def _print_search(scale: dict) -> None:
    print(f"search at scale (bench_scale.py, {scale['queries']} queries per index, k = 10), ms p50 / p95:")
    for size, what, figures in search_rows(scale):
        print(f"  {size:>10}  {what:52} {figures}")


if __name__ == "__main__":
    raise SystemExit(main())
