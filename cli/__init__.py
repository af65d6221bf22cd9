"""mmrag.cli (folder cli/): the Typer application, `mmrag index|inspect|search|ask|remove|eval`.

The error boundary: expected failures become one line and exit code 2. An entry point: may import the
pipelines and everything below them; nothing imports it.
"""

from __future__ import annotations
