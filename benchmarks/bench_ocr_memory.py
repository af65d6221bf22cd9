"""Benchmark what OCR costs a parse worker: each PDF indexed alone by one worker, with the text detector run on
strips (`ingest.ocr_det_rows`, the default) and on the whole image at once (0), alternating, in the same run.

    python benchmarks/bench_ocr_memory.py --pdfs ../shared/devset-visual/pdfs \\
        [--files OWASP_Top10_2025_Making_Of_slides.pdf ...] [--rounds 2]

Needs mmrag installed (`pip install -e .`). Each run is `mmrag index FILE --workers 1 --profile --json` into a
fresh index (bench_ingest.py's runner); the figures are the worker's peak resident MB (from the profile) and the
run's seconds, per document and setting (the median of the rounds), and their ratios. The result goes to
benchmarks/results/ocr-memory-<date>-<label>.json (`--results-dir`, `--label`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench_ingest import _mmrag
from results import add_results_dir_option, machine, write_result

# Slide decks whose pictures carry the text (read by OCR) and a report of charts, from ../shared/devset-visual
DEFAULT_FILES = ("OWASP_Top10_2025_Making_Of_slides.pdf", "NASA_TOPS_Highlights_slides.pdf",
                 "EIA_STEO_December_2024.pdf")
SETTINGS = {"strips (default)": {}, "whole image": {"ingest": {"ocr_det_rows": 0}}}


def index_alone(pdf: Path, config: dict[str, Any], work: Path) -> dict[str, float]:
    """One PDF indexed by one worker (bench_ingest's run of `mmrag index --profile --json`): its worker's peak
    resident MB and the command's seconds."""
    extra = None
    if config:
        path = work / "settings.json"
        path.write_text(json.dumps(config))
        extra = ["--config", str(path)]
    run = _mmrag([pdf], 1, work, extra=extra)
    peaks = [w["peak_rss_mb"] for name, w in run["profile"].items() if name.startswith("worker ")]
    return {"worker_peak_mb": max(peaks), "seconds": round(run["seconds"], 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdfs", type=Path, required=True, help="folder of the PDFs")
    parser.add_argument("--files", nargs="*", default=list(DEFAULT_FILES), help="file names in --pdfs")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--label", default="devset-visual")
    add_results_dir_option(parser)
    args = parser.parse_args(argv)
    started = machine()
    runs: dict[str, dict[str, list[dict[str, float]]]] = {f: {s: [] for s in SETTINGS} for f in args.files}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for name in args.files:
                for setting, config in SETTINGS.items():
                    runs[name][setting].append(index_alone(args.pdfs / name, config, Path(tmp)))
    figures: dict[str, Any] = {}
    print("| document | worker peak MB, strips / whole | ratio | seconds, strips / whole | ratio |")
    print("|---|---|---|---|---|")
    for name, by_setting in runs.items():
        med = {s: {k: statistics.median(r[k] for r in rs) for k in ("worker_peak_mb", "seconds")}
               for s, rs in by_setting.items()}
        strips, whole = med["strips (default)"], med["whole image"]
        row = {"strips": strips, "whole_image": whole,
               "peak_ratio": round(strips["worker_peak_mb"] / whole["worker_peak_mb"], 3),
               "seconds_ratio": round(strips["seconds"] / whole["seconds"], 3), "runs": by_setting}
        figures[name] = row
        print(f"| {name} | {strips['worker_peak_mb']:.0f} / {whole['worker_peak_mb']:.0f} | {row['peak_ratio']} "
              f"| {strips['seconds']:.1f} / {whole['seconds']:.1f} | {row['seconds_ratio']} |")
    if args.results_dir:
        path = write_result(
            "ocr-memory", args.label, figures, machine_info=started, results_dir=args.results_dir,
            compared="each PDF indexed alone by one worker with ingest.ocr_det_rows at its default (strips) and at 0 "
                     "(the whole image at once), alternating, in the same run",
            setup={"files": args.files, "rounds": args.rounds, "pdfs": str(args.pdfs)},
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
