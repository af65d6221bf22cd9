"""pyproject says one thing everywhere: the declared minimum Python, ruff's target, what the wheel ships."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_declared_minimum_python_is_the_one_ruff_targets_and_ci_runs() -> None:
    match = re.fullmatch(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert match, PYPROJECT["project"]["requires-python"]
    minimum = (int(match[1]), int(match[2]))
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{minimum[0]}{minimum[1]}"
    # settings.py reads TOML with the standard library's tomllib (3.11+): the minimum cannot be lower
    assert minimum >= (3, 11)
    assert sys.version_info[:2] >= minimum


def test_the_package_ships_its_type_hints() -> None:
    assert (ROOT / "mmrag" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["mmrag"]


def test_the_package_ships_the_web_page_files() -> None:
    from fnmatch import fnmatch

    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["mmrag"]
    files = [p.relative_to(ROOT / "mmrag").as_posix() for folder in ("templates", "static")
             for p in (ROOT / "mmrag" / "serve" / folder).iterdir() if p.is_file()]
    assert files
    assert all(any(fnmatch(f, g) for g in globs) for f in files), files
    assert "mmrag.serve" in PYPROJECT["tool"]["setuptools"]["packages"]
