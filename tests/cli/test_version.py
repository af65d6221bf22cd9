"""`mmrag --version` prints the installed package's version."""

from __future__ import annotations

from importlib.metadata import version

from typer.testing import CliRunner

import mmrag
from mmrag.cli.app import app


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"mmrag {version('mmrag')}"
    assert version("mmrag") == mmrag.__version__  # the facade's constant and the installed metadata agree
