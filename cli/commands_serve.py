"""`mmrag serve` (the HTTP API, the web page and MCP at /mcp) and `mmrag mcp` (MCP over stdio)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mmrag.cli.console import cli_errors, console, setup_logging
from mmrag.cli.flags import IndexOpt
from mmrag.errors import MMRagError

GeneratorOpt = Annotated[str | None, typer.Option(help="auto, transformers, openai or extractive.")]
ModelOpt = Annotated[str | None, typer.Option(help="Generator model (name, path or server model id).")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="OpenAI-compatible server URL, e.g. vLLM or Ollama.")]


@cli_errors
def serve(
    index: IndexOpt = Path("idx"),
    host: Annotated[str, typer.Option(help="Address to bind; other than loopback needs --api-key or --insecure.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    api_key: Annotated[str | None, typer.Option(
        help="Bearer token required on every route but /api/health (default: $MMRAG_API_KEY).")] = None,
    insecure: Annotated[bool, typer.Option(help="Serve a non-loopback address without an API key.")] = False,
    cors: Annotated[str | None, typer.Option(help="The one browser origin allowed to call the API (CORS).")] = None,
    allow_upload: Annotated[bool, typer.Option(help="Accept PDFs at POST /api/documents and index them.")] = False,
    max_upload_mb: Annotated[int, typer.Option(help="Largest PDF upload, in MiB.")] = 100,
    mcp: Annotated[bool, typer.Option(help="Serve MCP over streamable HTTP at /mcp.")] = True,
    generator: GeneratorOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what each step does.")] = False,
) -> None:
    """Serve an index to people (a web page at /), programs (HTTP API under /api) and agents (MCP at /mcp)."""
    setup_logging(verbose)
    key = api_key or os.environ.get("MMRAG_API_KEY") or None
    if not is_loopback(host) and not key and not insecure:
        raise MMRagError(f"--host {host} is reachable from other machines: give --api-key KEY (or MMRAG_API_KEY), "
                         "or --insecure to serve it without one")
    if not 1 <= max_upload_mb <= 10_000:
        raise MMRagError(f"--max-upload-mb {max_upload_mb}: use 1 to 10000")
    check_port_free(host, port)
    import uvicorn

    from mmrag.serve.api import create_app
    from mmrag.serve.security import SecurityOptions

    if allow_upload:
        ensure_index(index)
    service = open_service(index, generator, model, base_url)
    uploads = None
    if allow_upload:
        from mmrag.serve.uploads import UploadJobs

        uploads = UploadJobs(service, max_bytes=max_upload_mb * 1024 * 1024)
    security = SecurityOptions(api_key=key, cors_origin=cors, max_upload_bytes=max_upload_mb * 1024 * 1024)
    app = create_app(service, security=security, mcp=mcp, uploads=uploads)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"serving {index} at http://{shown}:{port}/ — API /api, docs /docs"
                  + (", MCP /mcp" if mcp else "") + (", uploads on" if allow_upload else "")
                  + (", API key required" if key else ""), highlight=False, markup=False)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info" if verbose else "warning", access_log=verbose)
    finally:
        service.close()


@cli_errors
def mcp(
    index: IndexOpt = Path("idx"),
    generator: GeneratorOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Serve an index to an agent over MCP on stdin/stdout (tools: search, ask, get_page_image, list_documents)."""
    setup_logging(False)  # logs go to stderr: stdout carries the protocol only
    from mmrag.serve.mcp_server import run_stdio

    with contextlib.redirect_stdout(sys.stderr):  # whatever loading a model prints must not reach the protocol
        service = open_service(index, generator, model, base_url)
    try:
        run_stdio(service)
    finally:
        service.close()


def open_service(index: Path, generator: str | None, model: str | None, base_url: str | None) -> Any:
    from mmrag.serve.service import IndexService

    overrides = {"generator.backend": generator, "generator.model": model, "generator.base_url": base_url}
    service = IndexService(index, overrides=overrides)
    service.warm()
    return service


def ensure_index(index: Path) -> None:
    """An index folder to upload into: created (empty) when missing."""
    from mmrag.pipelines.index import open_index

    with open_index(index, create=True) as idx:
        if not (index / "manifest.json").exists():
            idx.save_manifest()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port_free(host: str, port: int) -> None:
    """One line instead of uvicorn's traceback when the address is taken or cannot be bound."""
    if not 0 < port < 65536:
        raise MMRagError(f"--port {port}: use 1 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise MMRagError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
