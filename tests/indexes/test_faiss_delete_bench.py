"""benchmarks/bench_faiss_delete.py runs end to end at a toy size and writes a result that says what it measured."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_faiss_delete_at_a_toy_size(tmp_path: Path) -> None:
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the scripts import results.py from their folder
    spec = importlib.util.spec_from_file_location("benchmarks_bench_faiss_delete", f"{folder}/bench_faiss_delete.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--vectors", "1500", "--per-doc", "100", "--dim", "32", "--queries", "10",
                       "--results-dir", str(tmp_path), "--label", "toy"]) == 0
    [written] = list(tmp_path.glob("faiss-delete-*-toy.json"))
    figures = json.loads(written.read_text())["figures"]
    kept, rebuilt = figures["tombstones"], figures["rebuild"]
    # tombstones: the graph still holds the deleted and the replaced documents' old vectors; rebuilt: it does not
    assert (kept["graph_vectors"], kept["tombstones"]) == (1600, 200)
    assert (rebuilt["graph_vectors"], rebuilt["tombstones"]) == (1300, 0)
    for mode in (kept, rebuilt):
        assert mode["deleted_found"] == 0 and mode["replaced_found"] is True and mode["recall@10"] > 0.9
    assert figures["delete_then_search_ratio"] > 0 and figures["replace_then_search_ratio"] > 0
