"""Interleaved A/B of `mmrag index` between two commits, on the same files: a change of a few percent, told apart
from the machine's noise.

On a shared machine single runs move by 15-25% from one minute to the next (the same encoder work took 571 and
634 CPU seconds in two dev-set runs on 2 cores), so one run of each side says little. This runs the base and the
head alternately (base, head, base, head, ...), each a fresh index with `--profile`, and reports every run's
seconds and CPU seconds per process, the means, and head/base ratios.

Each commit is checked out in a git worktree under the work folder and runs from there (its packages first on the
path, before any installed mmrag), so both sides run with the same libraries and models.

    python benchmarks/bench_ingest_ab.py --base 86bcc9b --pdfs ../shared/devset/pdfs/3M_2022_10K.pdf ... \\
        [--head HEAD] [--repeats 3] [--workers 2] [--label NAME] [--json]

Writes benchmarks/results/ingest-ab-<date>-<label>.json (see benchmarks/results.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from results import ROOT, machine, write_result

STAGES = ("tables", "render", "layout", "text", "ocr")  # the parse stages reported per run (both workers summed)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def checkout(commit: str, folder: Path) -> Path:
    """A worktree of `commit` at folder/tree, whose packages shadow any installed mmrag when Python runs in it
    (`_env`); returns the tree.

    The subpackages that live in folders of their own (pyproject's package-dir: pipelines/ as mmrag.pipelines, ...)
    are linked into the tree's mmrag/: an editable install maps them to its own checkout otherwise, and both sides
    would run that checkout's pipelines."""
    tree = folder / "tree"
    _git("worktree", "add", "--detach", "--force", str(tree), commit)
    subpackages = _package_dirs(tree)
    for name, where in subpackages.items():
        link = tree / "mmrag" / name.split(".", 1)[1]
        if not link.exists():
            link.symlink_to(Path("..") / where, target_is_directory=True)
    probe = "import importlib, os, sys; print('\\n'.join(os.path.dirname(importlib.import_module(m).__file__) " \
            "for m in sys.argv[1:]))"
    modules = ["mmrag", *subpackages]
    found = subprocess.run([sys.executable, "-c", probe, *modules], cwd=tree, env=_env(tree), check=True,
                           capture_output=True, text=True).stdout.split("\n")
    outside = [f"{m} from {w}" for m, w in zip(modules, found) if not Path(w).resolve().is_relative_to(tree.resolve())]
    if outside:
        _git("worktree", "remove", "--force", str(tree))
        raise SystemExit(f"{commit}: Python imports {', '.join(outside)}, not from its worktree")
    return tree


def _package_dirs(tree: Path) -> dict[str, str]:
    """mmrag's subpackages kept in folders of their own ({"mmrag.pipelines": "pipelines", ...}), from the tree's
    pyproject.toml."""
    config = tomllib.loads((tree / "pyproject.toml").read_text())
    dirs = config.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    return {name: where for name, where in dirs.items() if name.startswith("mmrag.") and name.count(".") == 1}


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(
        [str(tree), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])}


def run_index(tree: Path, files: list[Path], workers: int, work: Path) -> dict:
    """One fresh `mmrag index --profile`: wall seconds, CPU seconds per process, parse stage seconds."""
    index = work / f"idx-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "mmrag.cli.app", "index", *map(str, files), "--index", str(index), "--json",
           "--profile", "--workers", str(workers)]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env=_env(tree))
    seconds = time.perf_counter() - start
    shutil.rmtree(index, ignore_errors=True)
    try:
        summary = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"mmrag index failed ({out.returncode}): {out.stderr[-2000:]}") from None
    profile = summary.get("profile") or {}
    worker_profiles = [v for k, v in profile.items() if k.startswith("worker ") and isinstance(v, dict)]
    return {
        "seconds": round(seconds, 2),
        "pages": summary["pages"],
        "main_cpu_s": round(float(profile.get("main_cpu_s", 0.0)), 1),
        "workers_cpu_s": round(sum(float(w.get("cpu_s", 0.0)) for w in worker_profiles), 1),
        "encode_s": round(float((profile.get("main") or {}).get("encode text", 0.0)), 1),
        **{f"{s}_s": round(sum(float((w.get("stages") or {}).get(s, 0.0)) for w in worker_profiles), 1)
           for s in STAGES},
    }


def summarize(runs: list[dict]) -> dict:
    """Means per side and head/base ratios of the means."""
    keys = [k for k in runs[0] if k not in ("side", "repeat", "pages")]
    means = {side: {k: round(statistics.mean(r[k] for r in runs if r["side"] == side), 2) for k in keys}
             for side in ("base", "head")}
    ratios = {k: round(means["head"][k] / means["base"][k], 3) for k in keys if means["base"][k]}
    spread = {side: [min(r["seconds"] for r in runs if r["side"] == side),
                     max(r["seconds"] for r in runs if r["side"] == side)] for side in ("base", "head")}
    return {"means": means, "head_over_base": ratios, "seconds_min_max": spread}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the commit to compare against")
    ap.add_argument("--head", default="HEAD", help="the commit measured (default: HEAD)")
    ap.add_argument("--pdfs", nargs="+", required=True, help="files or folders, the same for both sides")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each side, interleaved")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--label", default=None, help="name in the result file (default: base-vs-head)")
    ap.add_argument("--work", type=Path, default=None, help="folder for worktrees and indexes (default: a temp dir)")
    ap.add_argument("--results-dir", default=None, help="where the result file goes (default benchmarks/results)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    started = machine()
    files = sorted(p for arg in args.pdfs for p in ([Path(arg)] if Path(arg).is_file() else Path(arg).glob("*.pdf")))
    if not files:
        raise SystemExit("no PDF files given")
    commits = {"base": _git("rev-parse", args.base), "head": _git("rev-parse", args.head)}
    work = args.work or Path(tempfile.mkdtemp(prefix="mmrag-ab-"))
    sides: dict[str, Path] = {}
    try:
        for side, commit in commits.items():
            sides[side] = checkout(commit, work / side)
        runs = []
        for repeat in range(1, args.repeats + 1):
            for side in ("base", "head"):
                row = {"side": side, "repeat": repeat, **run_index(sides[side], files, args.workers, work)}
                runs.append(row)
                if not args.json:
                    print(f"{side} {repeat}: {row['seconds']:.1f} s, CPU s main {row['main_cpu_s']} "
                          f"workers {row['workers_cpu_s']}, tables {row['tables_s']} s", flush=True)
    finally:
        for tree in sides.values():
            _git("worktree", "remove", "--force", str(tree))
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    summary = summarize(runs)
    figures = {"files": [f.name for f in files], "pages": runs[0]["pages"], "workers": args.workers,
               "commits": commits, "runs": runs, **summary}
    label = args.label or f"{commits['base'][:7]}-vs-{commits['head'][:7]}"
    path = write_result("ingest-ab", label, figures, machine_info=started, setup={"repeats": args.repeats},
                        results_dir=args.results_dir,
                        compared=f"`mmrag index --workers {args.workers}` at {commits['head'][:7]} (head) against "
                                 f"{commits['base'][:7]} (base) on the same {len(files)} files, "
                                 f"{args.repeats} runs each, interleaved")
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    ratio = summary["head_over_base"]
    print(f"head/base: seconds {ratio.get('seconds')}, main CPU {ratio.get('main_cpu_s')}, "
          f"workers' CPU {ratio.get('workers_cpu_s')}, tables {ratio.get('tables_s')}  ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
