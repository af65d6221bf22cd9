"""The CLI's input side: shared options and opening the index with the settings the flags ask for. Flag values
are parsed by `mmrag.params` (re-exported here), the same parsers the HTTP API and MCP tools use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mmrag.params import parse_choices, parse_ints, parse_list, parse_pages

__all__ = ["ConfigOpt", "IndexOpt", "JsonOpt", "open_index", "parse_choices", "parse_ints", "parse_list",
           "parse_pages"]

IndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Settings file (.toml or .json).")]


def open_index(index: Path, config: Path | None = None, create: bool = False, reset_stale: bool = False,
               read_only: bool = False, **overrides: Any):  # noqa: ANN201
    """The index, with its settings resolved in one place (`resolve_settings`: config file, else stored, else
    defaults; then these CLI overrides, dotted keys such as "text.model")."""
    from mmrag.pipelines.index import open_index as _open

    return _open(index, create=create, reset_stale=reset_stale, read_only=read_only, config=config,
                 overrides=overrides)
