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


def test_bench_text_encoder_compares_graphs_and_batch_plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mmrag.models.onnx_text import BATCH_OVERHEAD_TOKENS

    words = "revenue operating margin cash flows segment inventory lease goodwill dividend".split()
    texts = [" ".join(words[(i * 7 + k) % len(words)] for k in range(3 + (i * 13) % 90)) for i in range(40)]
    (tmp_path / "texts.txt").write_text("\n".join(texts))
    bench = _load("bench_text_encoder")
    assert bench.main(["--texts", str(tmp_path / "texts.txt"), "--rounds", "1", "--group", "20", "--json",
                       "--results-dir", str(tmp_path / "results"), "--label", "smoke"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["texts"] == 40 and report["graph"]["rewritten"] and report["graph"]["cosine_min"] > 0.999
    assert all(s > 0 for s in report["graph"]["seconds"].values())

    def cost(row: dict) -> float:
        return (1 + row["padding"]) * report["tokens"] + BATCH_OVERHEAD_TOKENS * row["calls"]

    assert cost(report["batches"]["planned"]) <= cost(report["batches"]["filled in order"])
    [written] = list((tmp_path / "results").glob("text-encoder-*-smoke.json"))
    assert json.loads(written.read_text())["figures"]["graph"]["rewritten"] is True


def test_bench_ingest_ab_runs_both_commits_interleaved_and_cleans_up(tmp_path: Path) -> None:
    """Two sides (here the same commit), each in its own worktree and venv, one run each on a sample PDF: the
    result file holds both runs in order and the ratios, and no worktree stays behind."""
    import json
    import subprocess

    bench = _load("bench_ingest_ab")
    pdf = sorted((ROOT / "sample_corpus").glob("*.pdf"))[0]
    assert bench.main(["--base", "HEAD", "--head", "HEAD", "--pdfs", str(pdf), "--repeats", "1", "--workers", "1",
                       "--work", str(tmp_path / "work"), "--results-dir", str(tmp_path), "--label", "smoke"]) == 0
    [written] = list(tmp_path.glob("ingest-ab-*-smoke.json"))
    figures = json.loads(written.read_text())["figures"]
    assert [(r["side"], r["repeat"]) for r in figures["runs"]] == [("base", 1), ("head", 1)]
    assert all(r["seconds"] > 0 and r["main_cpu_s"] > 0 and r["pages"] > 0 for r in figures["runs"])
    assert figures["head_over_base"]["seconds"] > 0
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    assert str(tmp_path) not in worktrees


def test_bench_ingest_ab_worktree_runs_its_own_subpackages(tmp_path: Path) -> None:
    """Each side imports pipelines/, indexes/ and cli/ from its own worktree, not from the installed checkout
    (an editable install maps those folders to it, so both sides ran the same pipelines before)."""
    import subprocess

    bench = _load("bench_ingest_ab")
    tree = bench.checkout("HEAD", tmp_path)
    try:
        probe = "import mmrag.pipelines.ingest as p, mmrag.indexes.base as i, mmrag.cli.app as c; " \
                "print(p.__file__); print(i.__file__); print(c.__file__)"
        files = subprocess.run([sys.executable, "-c", probe], cwd=tree, env=bench._env(tree), check=True,
                               capture_output=True, text=True).stdout.split()
        assert len(files) == 3
        assert all(Path(f).resolve().is_relative_to(tree.resolve()) for f in files), files
    finally:
        bench._git("worktree", "remove", "--force", str(tree))
