"""MkDocs hook: the CLI reference, generated from the Typer application at build time.

reference/cli.md holds the marker line `<!-- cli-reference -->`; `on_page_markdown` replaces it with the Markdown
that `typer mmrag.cli.app utils docs --name mmrag` prints — Typer's own generator, run in-process on
`typer.main.get_command(app)` — with its headings moved one level down, under the page's title. The page's
Markdown then renders it: usage lines as code blocks, every command as a heading in the table of contents.

(mkdocs-typer2 and mkdocs-click do not render this Typer correctly: Typer vendors its own click, which
mkdocs-click does not recognise and mkdocs-typer2's native engine cannot read, and mkdocs-typer2's other engines
insert HTML that the page's Markdown then parses again, turning `<path>` into a tag and `[OPTIONS] [paths]` into
a broken cross-reference.)
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "<!-- cli-reference -->"
CLI_PAGE = "reference/cli.md"
APP = "mmrag.cli.app:app"
PROGRAM = "mmrag"


def cli_reference() -> str:
    """The Markdown reference of every command of the `mmrag` app, headings starting at level 2."""
    import importlib

    import typer
    from typer.cli import get_docs_for_click

    module, _, attr = APP.partition(":")
    command = typer.main.get_command(getattr(importlib.import_module(module), attr))
    text = get_docs_for_click(obj=command, ctx=typer.Context(command, info_name=PROGRAM), name=PROGRAM)
    text = re.sub(r"^(#{1,5}) ", r"#\1 ", text.strip(), flags=re.MULTILINE)  # fenced blocks hold no headings
    missing = [name for name in getattr(command, "commands", {}) if f"`{PROGRAM} {name}`" not in text]
    if missing:
        _fail(f"the generated CLI reference has no section for {', '.join(missing)}")
    return text + "\n"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri != CLI_PAGE:
        return markdown
    if MARKER not in markdown:
        _fail(f"{CLI_PAGE} has lost its marker {MARKER}: the command reference would be missing")
    return markdown.replace(MARKER, cli_reference())


def _fail(message: str) -> None:
    from mkdocs.exceptions import PluginError

    raise PluginError(message)
