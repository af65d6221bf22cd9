"""The development set: index real public PDFs and run `mmrag eval` on them, per channel and per evidence type.

    python benchmarks/devset.py [--devset ../shared/devset] [--split all|tune|held] [--out .devset]
                                [--config settings.toml] [--reuse] [--tune]

The dev set is a folder with `pdfs/` (or its PDFs at the top, as sample_corpus) and `questions.jsonl` in mmrag's
eval format (../shared/devset: 23 SEC filings, 2,499 pages, 68 questions; ../shared/devset-visual: 8 reports, decks
and papers, 281 pages, 56 questions; sample_corpus: 5 PDFs, 60 questions, no held-back part).
Its documents are split for honest tuning: HELD_BACK names, per dev set, the documents whose questions are never
used to choose settings (finance: the five longest filings, 25 questions; visual: three documents, 14 questions);
`--split tune` uses the rest; `--split all` also scores each split's questions on the whole set's index.
Everything runs through the `mmrag` command line, as a user would; the printed tables are what the README quotes.
`--tune` runs `mmrag eval --tune` on the tune split's index (settings stored there), then scores the held-back
split with the settings it chose.

Each run writes its result to benchmarks/results/retrieval-<date>-<label>.json (`--results-dir`, `--label`; the label
defaults to the dev set folder's name and the split), in the envelope of benchmarks/results.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from results import add_results_dir_option, machine, slug, write_result

# Per dev set (its folder's name): the documents whose questions are never used to choose settings.
HELD_BACK = {
    # the five longest filings, 25 of 68 questions
    "devset": ("BOEING_2022_10K.pdf", "CVSHEALTH_2022_10K.pdf", "3M_2022_10K.pdf", "AMERICANEXPRESS_2022_10K.pdf",
               "PEPSICO_2022_10K.pdf"),
    # a handbook, a whitepaper and a short deck: 14 of 56 questions (Figure 8, Layout 4, Table 3, Chart 1, Text 1)
    "devset-visual": ("OWASP_Top10_2017_en.pdf", "CNCF_Cloud_Native_Security_Whitepaper_v2_May2022.pdf",
                      "NASA_TOPS_Highlights_slides.pdf"),
}
CHANNELS = "text:dense,text:lexical,text,image,fused"
METRICS = ("page_hit@1", "page_hit@5", "mrr", "ndcg@5")
DEFAULT_DEVSET = Path(__file__).resolve().parents[1].parent / "shared" / "devset"


def mmrag(*args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    proc = subprocess.run([sys.executable, "-m", "mmrag.cli.app", *args], capture_output=True, text=True, env=env)
    if proc.returncode not in (0, 1):  # index exits 1 when a file was skipped; that is reported, not fatal
        sys.exit(f"mmrag {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def split_files(devset: Path, split: str, out: Path) -> tuple[list[Path], Path]:
    """The split's PDFs and a questions file holding only its questions."""
    folder = devset / "pdfs" if (devset / "pdfs").is_dir() else devset  # sample_corpus keeps its PDFs at the top
    pdfs = sorted(folder.glob("*.pdf"))
    held_back = set(HELD_BACK.get(devset.resolve().name, ()))
    if split != "all" and not held_back:
        sys.exit(f"{devset}: no held-back documents are named for this dev set (HELD_BACK in {__file__})")
    if split == "tune":
        pdfs = [p for p in pdfs if p.name not in held_back]
    elif split == "held":
        pdfs = [p for p in pdfs if p.name in held_back]
    names = {p.name for p in pdfs}
    rows = [json.loads(line) for line in (devset / "questions.jsonl").read_text().splitlines() if line.strip()]
    questions = out / f"questions_{split}.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows if r["doc"] in names))
    return pdfs, questions


def index_split(pdfs: list[Path], index: Path, config: Path | None, reuse: bool) -> tuple[float, list[str]]:
    """Index the split (unchanged files are skipped by mmrag itself); returns seconds and the documents added."""
    if index.exists() and reuse:
        return 0.0, []
    start = time.perf_counter()
    extra = ["--config", str(config)] if config else []
    out = mmrag("index", *map(str, pdfs), "--index", str(index), *extra, "--json")
    try:
        added = [a if isinstance(a, str) else a.get("doc", "") for a in json.loads(out).get("added", [])]
    except (ValueError, AttributeError):
        added = []
    return time.perf_counter() - start, added


def evaluate(index: Path, questions: Path, report: Path | None = None) -> dict:
    extra = ["--report", str(report)] if report else []
    return json.loads(mmrag("eval", str(questions), "--index", str(index), "--channels", CHANNELS, "--json", *extra))


def table(result: dict, title: str) -> str:
    """Markdown: metrics per channel, then page_hit@1/@5 per evidence type for each channel."""
    channels = list(result["metrics"])
    latency = result.get("latency_ms", {})
    lines = [f"### {title}", "", "| channel | " + " | ".join(METRICS) + " | p50 ms |",
             "|---" * (len(METRICS) + 2) + "|"]
    for channel, metrics in result["metrics"].items():
        p50 = latency.get(channel, {}).get("p50")
        lines.append(f"| {channel} | " + " | ".join(f"{metrics.get(m, 0):.3f}" for m in METRICS)
                     + f" | {'' if p50 is None else f'{p50:.0f}'} |")
    lines += ["", "page_hit@1 / page_hit@5 by evidence type:", "",
              "| evidence | n | " + " | ".join(channels) + " |", "|---" * (len(channels) + 2) + "|"]
    for evidence, by_channel in result.get("by_evidence", {}).items():
        cells = [f"{by_channel.get(c, {}).get('page_hit@1', 0):.3f} / {by_channel.get(c, {}).get('page_hit@5', 0):.3f}"
                 for c in channels]
        lines.append(f"| {evidence} | {result['n_by_evidence'].get(evidence, '')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    ap.add_argument("--split", choices=("all", "tune", "held"), default="all")
    ap.add_argument("--out", type=Path, default=Path(".devset"))
    ap.add_argument("--config", type=Path, help="a settings file for `mmrag index`")
    ap.add_argument("--reuse", action="store_true", help="reuse an existing index of the split as it is")
    ap.add_argument("--tune", action="store_true", help="tune on the tune split, then score the held-back split")
    ap.add_argument("--label", default=None, help="name in the result file (default: dev set folder and split)")
    add_results_dir_option(ap)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = machine()
    tuned_on = None
    if args.tune:
        pdfs, questions = split_files(args.devset, "tune", args.out)
        index = args.out / "idx_tune"
        index_split(pdfs, index, args.config, args.reuse)
        print(mmrag("eval", str(questions), "--index", str(index), "--tune"))
        tuned = args.out / "tuned.json"  # the tune index's whole settings, tuned query section included
        tuned.write_text(json.dumps(json.loads((index / "manifest.json").read_text())["settings"], indent=2))
        tuned_on = json.loads(tuned.read_text()).get("query")
        args.split, args.config, args.reuse = "held", tuned, False  # index --config stores them in the held index
    pdfs, questions = split_files(args.devset, args.split, args.out)
    index = args.out / f"idx_{args.split}"
    seconds, added = index_split(pdfs, index, args.config, args.reuse)
    result = evaluate(index, questions, args.out / f"report_{args.split}")
    splits = {}  # the whole set's index scored on each split's questions too (doc scope: the same rankings)
    if args.split == "all" and HELD_BACK.get(args.devset.resolve().name):
        for part in ("tune", "held"):
            splits[part] = evaluate(index, split_files(args.devset, part, args.out)[1])
    pages = sum(d["pages"] for d in json.loads(mmrag("inspect", "--index", str(index), "--json"))["docs"]
                if d["doc"] in added)
    if seconds:  # only the documents this run added count (unchanged ones were skipped)
        print(f"indexed {len(added)} PDFs, {pages} pages in {seconds:.0f} s ({pages / seconds:.2f} pages/s)")
    print(table(result, f"dev set, split {args.split}: {len(pdfs)} PDFs, {result['n']} questions"))
    for part, scored in splits.items():
        print("\n" + table(scored, f"the same index, {part} split's questions only: {scored['n']} questions"))
    if args.results_dir:
        name = args.devset.resolve().name
        index_figures = {"pdfs": len(pdfs), "documents_added": len(added), "pages_added": pages,
                         "seconds": round(seconds, 1), "pages_per_s": round(pages / seconds, 2) if seconds else None}
        figures = {"index": index_figures, **result}
        if splits:
            figures["splits"] = {part: {k: scored[k] for k in ("n", "metrics", "by_evidence", "n_by_evidence")
                                        if k in scored} for part, scored in splits.items()}
        setup = {"dataset": name, "split": args.split, "questions": str(questions), "channels": CHANNELS,
                 "config": str(args.config) if args.config else None, "reused_index": args.reuse}
        if tuned_on is not None:
            setup["tuned_query_settings"] = tuned_on
        tuned_note = "; query settings chosen by `mmrag eval --tune` on the tune split" if tuned_on is not None else ""
        compared = (f"the channels {CHANNELS.replace(',', ', ')} (each alone, and `fused`, what search and ask use) on "
                    f"the same index and the same {result['n']} questions, overall and per evidence type{tuned_note}")
        out = write_result("retrieval", args.label or slug(f"{name}-{args.split}" + ("-tuned" if args.tune else "")),
                           figures, compared=compared, setup=setup, machine_info=started,
                           results_dir=args.results_dir)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
