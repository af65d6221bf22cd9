"""The benchmark pages come from the result files only: every result file is a well-formed envelope and its
figures are on its page, rendering is deterministic, and the committed docs/benchmarks/ and the README's figures
block are what the result files give (so nobody edits them by hand)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "benchmarks"
README = ROOT / "README.md"
STALE = "docs/benchmarks/ is out of date with benchmarks/results/: run `python benchmarks/render_pages.py`"


def _load(name: str) -> ModuleType:
    """A benchmarks/ script as a module (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


pages = _load("render_pages")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("benchmarks")
    assert pages.main(["--results", str(RESULTS), "--docs", str(out), "--readme", ""]) == 0
    return out


def _section(page: str, stem: str) -> str:
    start = page.index(f"\n### {stem}\n")
    end = page.find("\n### ", start + 1)
    return page[start : end if end > 0 else None]


def _links(markdown: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", markdown)


def _headings(markdown: str) -> set[str]:
    return {pages.anchor(h) for h in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.M)}


def test_every_result_file_is_a_well_formed_envelope():
    results = pages.load_results(RESULTS)
    assert results, "benchmarks/results/ holds no result"
    for r in results:
        d = r.data
        assert re.fullmatch(r"\d{4}-\d{2}-(\d{2}|xx)(T\d{2}:\d{2}(:\d{2})?Z)?", d["date"]), r.path.name
        assert r.path.name.startswith(f"{d['kind']}-{d['date'][:10]}-"), f"{r.path.name}: <kind>-<date>-<label>"
        assert isinstance(d["machine"], dict) and isinstance(d.get("versions", {}), dict), r.path.name
        assert str(d["compared"]).strip() and str(d["command"]).strip(), r.path.name
        assert d["figures"] and any(True for _ in pages.numbers(d["figures"])), f"{r.path.name}: no figures"
        # a result a script wrote records its versions; one typed in from elsewhere says where it came from
        assert d.get("versions") or d.get("source"), f"{r.path.name}: neither versions nor source"


def test_each_result_has_its_figures_and_comparison_on_its_page(rendered: Path):
    for r in pages.load_results(RESULTS):
        page = (rendered / pages.page_name(r.kind)).read_text()
        section = _section(page, r.stem)
        assert "**Compared in the same run:**" in section, r.stem
        assert pages.short_date(r.date) in section and f"benchmarks/results/{r.path.name}" in section, r.stem
        missing = [n for n in pages.numbers(r.figures) if pages.fmt(n) not in section]
        assert not missing, f"{r.stem}: figures not on {pages.page_name(r.kind)}: {missing[:10]}"


def test_newest_result_first_older_ones_as_history(rendered: Path):
    results = pages.load_results(RESULTS)
    for kind in {r.kind for r in results}:
        page = (rendered / pages.page_name(kind)).read_text()
        mine = [r for r in results if r.kind == kind]
        newest = next(r for r in mine if r.kept)
        assert f"\n### {newest.stem}\n" in page.split("## History")[0], kind  # the newest (kept) is current
        if "## History" in page:
            history = page.split("## History")[1]
            stems = [r.stem for r in mine if f"\n### {r.stem}\n" in history]
            assert stems == sorted(stems, key=lambda s: page.index(f"\n### {s}\n")), kind


def test_links_and_images_of_the_pages_exist(rendered: Path):
    files = sorted(rendered.glob("*.md"))
    assert {"index.md", "retrieval.md", "scale.md", "serve.md"} <= {f.name for f in files}
    assert list((rendered / "img").glob("*.png")), "no plots"
    for f in files:
        for link in _links(f.read_text()):
            assert not re.match(r"^[a-z]+:|^/", link), f"{f.name}: {link} is not a relative link"
            target, _, frag = link.partition("#")
            path = (f.parent / target) if target else f
            assert path.is_file(), f"{f.name}: {link} points to no file"
            if frag:
                assert frag in _headings(path.read_text()), f"{f.name}: {link}: no such heading"


def test_rendering_is_deterministic():
    first, second = pages.render(RESULTS), pages.render(RESULTS)
    assert first.keys() == second.keys()
    assert all(first[name] == second[name] for name in first), "two renders of the same results differ"


def test_committed_pages_are_up_to_date():
    problems = pages.differences(pages.render(RESULTS), DOCS)
    assert not problems, f"{STALE}: {problems}"


def test_readme_figures_block_is_up_to_date():
    text = README.read_text()
    expected = pages.replace_block(text, pages.readme_block(pages.load_results(RESULTS), README, DOCS))
    if expected is None:
        pytest.skip("the README has no figures block")
    assert expected == text, "the README's figures block is out of date: run `python benchmarks/render_pages.py`"


def test_readme_block_is_short_and_only_it_changes(tmp_path: Path):
    readme = tmp_path / "README.md"
    before, after = "# Title\n\nText above.\n\n", "\n\nText below.\n"
    readme.write_text(f"{before}{pages.START}\nold, hand-typed: 99.9%\n{pages.END}{after}")
    docs = tmp_path / "docs" / "benchmarks"
    assert pages.main(["--docs", str(docs), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(before + pages.START) and text.endswith(pages.END + after)
    block = text[text.index(pages.START) : text.index(pages.END)]
    assert "99.9%" not in block
    rows = [line for line in block.splitlines() if line.startswith("| [")]
    assert 1 <= len(rows) <= 8
    for link in _links(block):
        assert not link.startswith("/") and (readme.parent / link.partition("#")[0]).is_file(), link
    no_block = tmp_path / "OTHER.md"
    no_block.write_text("no markers here\n")
    assert pages.main(["--docs", str(docs), "--readme", str(no_block)]) == 0
    assert no_block.read_text() == "no markers here\n"


def test_a_new_result_is_current_and_the_old_one_history(tmp_path: Path):
    results = _load("results")
    folder = tmp_path / "results"
    shutil.copytree(RESULTS, folder)
    figures = {"sizes": {"1000": {"reader_ms": 12.5, "plain_ms": 10.25, "ratio": 1.22},
                         "4000": {"reader_ms": 31.75, "plain_ms": 29.5, "ratio": 1.08}}, "repeats": 3}
    path = results.write_result("reader-open", "1k-4k", figures, compared="reader vs plain open",
                                command=["benchmarks/bench_reader_open.py", "1000", "4000"], results_dir=folder)
    again = results.write_result("reader-open", "1k-4k", figures, compared="reader vs plain open",
                                 results_dir=folder)
    assert again != path and path.exists(), "a result file is never overwritten"
    again.unlink()
    data = json.loads(path.read_text())
    assert list(data)[:7] == ["kind", "label", "date", "machine", "versions", "command", "compared"]
    assert data["command"] == "python benchmarks/bench_reader_open.py 1000 4000"
    assert {"cpus", "cpu_model", "ram_gb", "gpu", "platform", "python"} <= set(data["machine"])
    assert {"python", "mmrag", "numpy"} <= set(data["versions"])
    docs = tmp_path / "docs"
    assert pages.main(["--results", str(folder), "--docs", str(docs), "--readme", ""]) == 0
    page = (docs / "reader-open.md").read_text()
    current, history = page.split("## History")
    assert f"### {path.stem}" in current and "### reader-open-2026-11-xx-3k-10k" in history
    assert "31.75" in current and (docs / "img" / f"{path.stem}-open.png").is_file()
    assert pages.main(["--results", str(RESULTS), "--docs", str(docs), "--readme", ""]) == 0
    assert not (docs / "img" / f"{path.stem}-open.png").exists(), "pages of removed results are removed"


def test_a_variant_not_kept_is_history_even_when_newest(tmp_path: Path):
    results = _load("results")
    folder = tmp_path / "results"
    shutil.copytree(RESULTS, folder)
    figures = {"sizes": {"1000": {"reader_ms": 99.5, "plain_ms": 10.25, "ratio": 9.71}}, "repeats": 3}
    path = results.write_result("reader-open", "1k-variant", figures, compared="a variant not kept",
                                results_dir=folder)
    data = json.loads(path.read_text())
    data["kept"] = False
    path.write_text(json.dumps(data))
    docs = tmp_path / "docs"
    assert pages.main(["--results", str(folder), "--docs", str(docs), "--readme", ""]) == 0
    current, history = (docs / "reader-open.md").read_text().split("## History")
    assert f"### {path.stem}" in history and f"### {path.stem}" not in current
    assert "### reader-open-2026-11-xx-3k-10k" in current
    assert path.stem not in (docs / "index.md").read_text().split("## ")[1]  # not a headline either


def test_a_malformed_result_is_named(tmp_path: Path):
    (tmp_path / "bad-2026-01-01-x.json").write_text(json.dumps({"kind": "bad", "figures": {}}))
    with pytest.raises(ValueError, match="bad-2026-01-01-x.json"):
        pages.load_results(tmp_path)


def test_the_pages_build_with_mkdocs_strict(rendered: Path, tmp_path: Path):
    pytest.importorskip("mkdocs")
    docs = tmp_path / "docs"
    shutil.copytree(rendered, docs / "benchmarks")
    (docs / "index.md").write_text("# Home\n\n[Benchmarks](benchmarks/index.md)\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: benchmark pages\ndocs_dir: docs\nstrict: true\nmarkdown_extensions:\n  - tables\n"
                      "  - toc:\n      permalink: true\nvalidation:\n  links:\n    not_found: warn\n"
                      "    anchors: warn\n    absolute_links: warn\n    unrecognized_links: warn\n")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(config), "-d",
                           str(tmp_path / "site")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ingest_runs_are_series_by_corpus_and_the_readme_shows_the_dev_set():
    results = pages.load_results(RESULTS)
    ingest = [r for r in results if r.kind == "ingest"]
    groups = {pages.ingest_group(r) for r in ingest}
    assert "devset" in groups and "4short-visual" in groups
    assert not any(re.search(r"-(round\d+|\d{4}utc)$", g) for g in groups)
    rows = [row for row in pages.readme_rows(results) if row.kind == "ingest"]
    assert [row.group for row in rows] == ["devset"]


def test_the_ingest_headline_gives_the_memory_growth_over_pages_or_files():
    results = {r.path.stem: r for r in pages.load_results(RESULTS) if r.kind == "ingest"}
    by_pages = pages.ingest_headline(results["ingest-2026-12-08-devset-round19"])  # memory at 20 and 100 pages
    assert by_pages.endswith("tree peak PSS 20 → 100 pages: 1.06×")
    no_memory = pages.ingest_headline(results["ingest-2026-12-08-devset-round18"])
    assert "PSS" not in no_memory and "1.80× pymupdf4llm" in no_memory
