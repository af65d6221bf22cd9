"""The `mmrag` command line: the Typer application and its commands (index, inspect, search, ask, remove, check,
eval, serve, mcp), each defined in a commands_*.py module beside this one."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mmrag.cli.commands_eval import eval_
from mmrag.cli.commands_index import check, index, inspect, remove
from mmrag.cli.commands_query import ask, search
from mmrag.cli.commands_serve import mcp, serve

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Multimodal RAG over PDF corpora.")
for command in (index, inspect, search, ask, remove, check, serve, mcp):
    app.command()(command)
app.command(name="eval")(eval_)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mmrag {version('mmrag')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print mmrag's version and exit.")] = False,
) -> None:
    """Multimodal RAG over PDF corpora: index PDFs, search, ask with citations, evaluate, serve."""


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
