"""Griffe extension for the API reference: mount the folders pyproject maps into the `mmrag` namespace.

pyproject's `[tool.setuptools.package-dir]` installs pipelines/ as `mmrag.pipelines`, indexes/ as `mmrag.indexes`
and cli/ as `mmrag.cli`. Griffe reads `mmrag` from mmrag/ and looks for its subpackages there, so without this
`mmrag.pipelines.index.MMIndex` "could not be found". When griffe has visited mmrag/__init__.py, this visits each
mapped folder's modules (statically, as griffe does everything else) and attaches them under `mmrag`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import griffe

ROOT = Path(__file__).resolve().parent.parent


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """Subpackage name under `mmrag` -> its folder, from pyproject's package-dir (e.g. "pipelines" -> pipelines/)."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = data["tool"]["setuptools"].get("package-dir", {})
    return {name.split(".", 1)[1]: root / folder for name, folder in mapping.items()
            if name.startswith("mmrag.") and name.count(".") == 1}


class PackageDirs(griffe.Extension):
    """Attach pyproject's package-dir folders to the `mmrag` package while griffe loads it."""

    def on_module_members(self, *, node: Any, mod: griffe.Module, agent: Any, **kwargs: Any) -> None:
        if mod.path != "mmrag" or not isinstance(agent, griffe.Visitor):
            return
        for name, folder in package_dirs().items():
            _visit_package(name, folder, mod, agent)


def _visit_package(name: str, folder: Path, parent: griffe.Module, agent: griffe.Visitor) -> None:
    package = _visit(name, folder / "__init__.py", parent, agent)
    for path in sorted(folder.iterdir()):
        if path.suffix == ".py" and path.name != "__init__.py":
            _visit(path.stem, path, package, agent)
        elif (path / "__init__.py").is_file():
            _visit_package(path.name, path, package, agent)


def _visit(name: str, path: Path, parent: griffe.Module, agent: griffe.Visitor) -> griffe.Module:
    module = griffe.visit(
        name, path, path.read_text(encoding="utf-8"), extensions=agent.extensions, parent=parent,
        docstring_parser=agent.docstring_parser, docstring_options=agent.docstring_options,
        lines_collection=agent.lines_collection, modules_collection=agent.modules_collection,
    )
    parent.set_member(name, module)
    return module
