"""The `mmrag` command line: the Typer application and its commands (index, inspect, search, ask, remove, check,
eval, serve, mcp), each defined in a commands_*.py module beside this one."""

from __future__ import annotations

import sys

import typer

from mmrag.cli.commands_eval import eval_
from mmrag.cli.commands_index import check, index, inspect, remove
from mmrag.cli.commands_query import ask, search
from mmrag.cli.commands_serve import mcp, serve

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Multimodal RAG over PDF corpora.")
for command in (index, inspect, search, ask, remove, check, serve, mcp):
    app.command()(command)
app.command(name="eval")(eval_)


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
