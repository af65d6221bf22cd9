"""Open time of a read-only Qdrant Edge text store beside a writer (a private copy) vs a plain open, same run.

    python benchmarks/bench_reader_open.py [POINTS ...]      (default: 3000 10000)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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


def main(sizes: list[int], repeats: int = 5) -> None:
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


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [3000, 10000])
