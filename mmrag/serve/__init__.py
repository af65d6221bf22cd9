"""`mmrag serve`: one open index behind three doors — an HTTP API (`api`), a web page (`web`) and MCP
(`mcp_server`) — over one `IndexService` (`service`), with request security (`security`) and uploads (`uploads`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("mmrag")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0+unknown"
