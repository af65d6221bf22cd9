"""bench_ingest.py's tree memory sampler: the peak PSS of a process and its children, each page counted once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_benchmark_scripts import _load

CHILD = """
import os, sys, time
data = b"x" * (int(sys.argv[1]) * 2**20)  # written, so resident
if len(sys.argv) > 2:
    child = os.fork()
    if child == 0:
        more = b"y" * (int(sys.argv[2]) * 2**20)
        time.sleep(1.5)
        os._exit(0)
    os.waitpid(child, 0)  # the parent outlives its child: were it gone first, the child would own the 60 MB alone
time.sleep(0.3)
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc smaps_rollup")
def test_tree_memory_adds_up_a_process_and_its_children() -> None:
    bench = _load("bench_ingest")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "60", "40"])
    with bench.TreeMemory(proc.pid, interval=0.1) as memory:
        proc.wait()
    figures = memory.figures()
    # parent 60 MB + child 40 MB of its own; the 60 MB the child shares after fork counts once, not twice
    assert 100 <= figures["peak_pss_mb"] < 100 + 60
    assert figures["peak_rss_mb"] >= 160  # RSS counts the shared pages in both
    assert figures["samples"] >= 3
    assert figures["pss_at_peak_mb"]["main"] > 30


def test_a_repeated_memory_row_is_its_median_run_with_every_peak_listed() -> None:
    bench = _load("bench_ingest")
    runs = [{"peak_pss_mb": peak, "seconds": float(i)} for i, peak in enumerate((1139.0, 952.0, 1053.0))]
    row = bench._median_run(runs)
    assert row["peak_pss_mb"] == 1053.0 and row["seconds"] == 2.0  # the whole median run, not a mix of runs
    assert row["peak_pss_runs_mb"] == [1139.0, 952.0, 1053.0]
    assert bench._median_run(runs[:2])["peak_pss_mb"] == 1139.0  # even count: the upper middle
    assert "peak_pss_runs_mb" not in runs[0]
