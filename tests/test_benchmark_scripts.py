"""The benchmark scripts of the pages channel run end to end at toy sizes, so they are ready when a machine is:
bench_scale.py's pages channel (random multivectors) and gpu_pages_bench.py on a CPU with the tiny random
ColQwen2 (its smoke test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    """A benchmarks/ script as a module, with benchmarks/ importable as the scripts expect (results.py)."""
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_scale_pages_channel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load("bench_scale")
    assert bench.main(["--channels", "pages", "--sizes", "300", "--queries", "5", "--full-queries", "3",
                       "--page-tokens", "24", "--pool-factors", "1,3", "--first-stage-k", "50",
                       "--results-dir", str(tmp_path), "--label", "toy"]) == 0
    [written] = list(tmp_path.glob("scale-*-toy.json"))
    import json

    pages = json.loads(written.read_text())["figures"]["sizes"]["300"]["pages"]
    assert pages["pool1"]["vectors_per_page"] == 24 and pages["pool3"]["vectors_per_page"] == 8
    assert pages["pool3"]["vector_bytes_per_page"] < pages["pool1"]["vector_bytes_per_page"]
    for form in (pages["pool1"], pages["pool3"]):
        assert form["full"]["p50_ms"] > 0 and form["two_stage"]["p50_ms"] > 0
        assert 0 <= form["two_stage_recall@10"] <= 1
    assert "pages pool 3" in capsys.readouterr().out


def test_gpu_pages_bench_runs_on_a_cpu_with_the_tiny_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load("gpu_pages_bench")
    assert bench.main(["--model", "random:tiny", "--device", "cpu", "--pages", "4", "--batch-sizes", "2",
                       "--queries", "2", "--results-dir", str(tmp_path), "--label", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "pipeline pages/s" in out and "query encoding" in out
    assert list(tmp_path.glob("gpu-pages-*-smoke.json"))
