"""Open time of a read-only Qdrant Edge text store beside a writer (a private copy) vs a plain open, same run.

    python benchmarks/bench_reader_open.py [POINTS ...] [--repeats 5] [--results-dir DIR]   (default: 3000 10000)

Writes its result to benchmarks/results/reader-open-<date>-<label>.json (the envelope of benchmarks/results.py).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from results import add_results_dir_option, machine, size_label, write_result

from mmrag.indexes.qdrant_edge import EdgeTextStore
from mmrag.indexes.qdrant_store import SparseTerms, TextPoint

DIM = 384


def build(root: Path, n: int) -> EdgeTextStore:
    rng = np.random.default_rng(0)
    writer = EdgeTextStore(root / "qdrant", DIM)
    for start in range(0, n, 1000):
        writer.upsert([
            TextPoint(i, rng.standard_normal(DIM).astype(np.float32).tolist(), SparseTerms([1, 2 + i % 50], [1.0, 1.0]),
                      {"element_id": f"e{i}", "doc": f"d{i % 20}", "page": 1, "kind": "text"})
            for i in range(start, min(n, start + 1000))
        ])
        writer.flush()
    return writer


def main(sizes: list[int], repeats: int = 5) -> dict[str, dict[str, float]]:
    """Median open times per size: {points: {reader_ms, plain_ms, ratio}}."""
    out: dict[str, dict[str, float]] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            writer = build(root, n)
            reader_s = []
            for _ in range(repeats):  # the writer holds the shard meanwhile
                t = time.perf_counter()
                reader = EdgeTextStore(root / "qdrant", DIM, read_only=True)
                reader_s.append(time.perf_counter() - t)
                assert reader.count() == n
                reader.close()
            writer.close()
            plain_s = []
            for _ in range(repeats):
                t = time.perf_counter()
                plain = EdgeTextStore(root / "qdrant", DIM)
                plain_s.append(time.perf_counter() - t)
                plain.close()
            r, p = statistics.median(reader_s), statistics.median(plain_s)
            print(f"{n:>7} points: reader beside a writer {r * 1000:6.0f} ms, plain open (no writer) "
                  f"{p * 1000:6.0f} ms, ratio {r / p:.2f}")
            out[str(n)] = {"reader_ms": round(r * 1000, 1), "plain_ms": round(p * 1000, 1), "ratio": round(r / p, 2)}
    return out


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("points", nargs="*", type=int, default=[3000, 10000], help="store sizes (points)")
    ap.add_argument("--repeats", type=int, default=5, help="opens per size and kind (the median is reported)")
    ap.add_argument("--label", default=None, help="name in the result file (default: the sizes)")
    add_results_dir_option(ap)
    args = ap.parse_args(argv)
    started = machine()
    sizes = main(args.points, args.repeats)
    if args.results_dir:
        label = args.label or "-".join(map(size_label, args.points))
        out = write_result(
            "reader-open", label, {"sizes": sizes, "repeats": args.repeats},
            compared=("opening a read-only Qdrant Edge text store while a writer holds it (a private copy of the "
                      "shard) against a plain open of the same store with no writer, median of each, same run"),
            setup={"dim": DIM}, machine_info=started, results_dir=args.results_dir)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
