"""The CLI's input side: shared options, flag parsing (a bad value is one line naming the allowed ones) and
opening the index with the settings the flags ask for."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mmrag.errors import MMRagError

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


def parse_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def parse_choices(flag: str, value: str | None, allowed: tuple[str, ...]) -> list[str] | None:
    """A comma-separated flag value whose every item must be one of `allowed`."""
    items = parse_list(value)
    for item in items or []:
        if item not in allowed:
            raise MMRagError(f"{flag} {item!r}: use one of {', '.join(allowed)}")
    return items


def parse_ints(flag: str, value: str) -> list[int]:
    try:
        ks = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise MMRagError(f"{flag} {value!r}: use positive integers separated by commas, e.g. 1,5,10") from None
    if not ks or min(ks) < 1:
        raise MMRagError(f"{flag} {value!r}: use positive integers separated by commas, e.g. 1,5,10")
    return ks


def parse_pages(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    lo, _, hi = value.partition("-")
    try:
        return (int(lo), int(hi or lo))
    except ValueError:
        raise MMRagError(f"--pages {value!r}: use N or N-M") from None
