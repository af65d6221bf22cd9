"""The MCP door: the four tools over stdio (a real server process, driven by the SDK's client) and over streamable
HTTP at /mcp of the FastAPI app (under uvicorn on a free loopback port), with and without an API key.

The index is the sample corpus (`serve_index`, `service` from conftest.py). Every client call runs under a deadline,
so a hang fails the test instead of blocking the run.
"""

from __future__ import annotations

import base64
import io
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from fastapi.testclient import TestClient
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ImageContent, TextContent
from PIL import Image

from mmrag.serve.api import create_app
from mmrag.serve.mcp_server import MAX_SEARCH_IMAGES, fit_image
from mmrag.serve.security import SecurityOptions
from mmrag.serve.service import IndexService

ROOT = Path(__file__).resolve().parents[2]
QUESTION = next(q for q in map(json.loads, (ROOT / "sample_corpus" / "questions.jsonl").read_text().splitlines())
                if q["id"] == "q5")  # Redwood Gate's battery storage: a table on page 4 of the solar outlook
QUERY = "battery storage capacity Redwood Gate"
TOOLS = {"search", "ask", "get_page_image", "list_documents"}
DEADLINE = 90  # seconds for one whole client conversation, the server's start included
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "test", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}

T = TypeVar("T")


def run(conversation: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        with anyio.fail_after(DEADLINE):
            return await conversation()

    return anyio.run(bounded)


def texts(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def images(result: CallToolResult) -> list[Image.Image]:
    """The result's images, decoded (PNG or JPEG, as their media type says)."""
    out = []
    for block in result.content:
        if isinstance(block, ImageContent):
            img = Image.open(io.BytesIO(base64.b64decode(block.data)))
            img.load()
            assert block.mime_type == {"PNG": "image/png", "JPEG": "image/jpeg"}[img.format]
            out.append(img)
    return out


def check_search(result: CallToolResult) -> None:
    assert not result.is_error, texts(result)
    text = texts(result)
    assert f"{QUESTION['doc']} p.{QUESTION['pages'][0]}" in text
    assert "element_id: " in text and "channels: text #" in text
    found = images(result)
    assert 1 <= len(found) <= MAX_SEARCH_IMAGES
    assert all(max(img.size) <= 1024 for img in found)


# stdio --------------------------------------------------------------------------------------------------------------
def stdio_params(index: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k.startswith(("HF_", "TRANSFORMERS_", "TOKENIZERS_", "PYTHON"))}
    env |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return StdioServerParameters(command=sys.executable, args=["-m", "mmrag.cli.app", "mcp", "--index", str(index)],
                                 env=env, cwd=str(index.parent))  # `mmrag mcp --index IDX`, as an agent starts it


@contextmanager
def server_log(tmp_path: Path) -> Iterator[Any]:
    """The server process's stderr, shown when the test fails."""
    path = tmp_path / "server.log"
    with path.open("w+") as log:
        try:
            yield log
        except BaseException:
            log.flush()
            sys.stderr.write(f"--- MCP server stderr ---\n{path.read_text()[-5000:]}\n")
            raise


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # auto: the 2026 protocol; legacy: the initialize handshake
def test_stdio_tools(serve_index: Path, tmp_path: Path, mode: str) -> None:
    """The server as `mmrag mcp` runs it, a process speaking MCP on its stdin and stdout."""

    async def conversation() -> dict[str, Any]:
        out: dict[str, Any] = {}
        transport = stdio_client(stdio_params(serve_index), errlog=log)
        async with Client(transport, mode=mode, read_timeout_seconds=60) as client:
            out["tools"] = (await client.list_tools()).tools
            out["search"] = await client.call_tool("search", {"query": QUERY})
            page = {"doc": QUESTION["doc"], "page": QUESTION["pages"][0]}
            out["page"] = await client.call_tool("get_page_image", page)
            out["docs"] = await client.call_tool("list_documents", {})
            out["ask"] = await client.call_tool("ask", {"question": QUESTION["question"], "doc": QUESTION["doc"]})
            out["chart"] = await client.call_tool("search", {"query": QUERY, "kind": "chart"})
            out["missing"] = await client.call_tool("get_page_image", {"doc": "missing.pdf", "page": 1})
            out["empty"] = await client.call_tool("search", {"query": "  "})
            out["bad_k"] = await client.call_tool("search", {"query": QUERY, "k": "many"})
            out["no_query"] = await client.call_tool("ask", {"doc": QUESTION["doc"]})
        return out

    with server_log(tmp_path) as log:
        out = run(conversation)

    tools = {tool.name: tool for tool in out["tools"]}
    assert set(tools) == TOOLS
    assert "query" in tools["search"].input_schema["properties"]
    assert tools["search"].input_schema["required"] == ["query"]
    assert tools["search"].input_schema["properties"]["query"].get("description")

    check_search(out["search"])

    assert not out["page"].is_error, texts(out["page"])
    [page] = images(out["page"])
    assert min(page.size) > 100

    docs = texts(out["docs"])
    assert QUESTION["doc"] in docs and "page(s)" in docs and "table" in docs

    ask = texts(out["ask"])
    assert not out["ask"].is_error, ask
    assert QUESTION["answer"] in ask and "citations:" in ask and QUESTION["doc"] in ask

    chart = out["chart"]
    assert chart.is_error
    message = texts(chart)
    assert "'chart'" in message and all(kind in message for kind in ("text", "figure", "table", "page"))
    assert "Traceback" not in message and "\n" not in message

    assert out["missing"].is_error and "missing.pdf" in texts(out["missing"])
    assert out["empty"].is_error and texts(out["empty"]).startswith("query is empty")
    # arguments that do not fit the schema: one line naming the tool and the argument, not pydantic's report
    bad_k, no_query = texts(out["bad_k"]), texts(out["no_query"])
    assert out["bad_k"].is_error and bad_k.startswith("search: k: ") and "integer" in bad_k, bad_k
    assert out["no_query"].is_error and no_query == "ask: question is required", no_query
    assert "\n" not in bad_k + no_query and "errors.pydantic.dev" not in bad_k


def test_stdio_stdout_is_protocol_only(serve_index: Path, tmp_path: Path) -> None:
    """Every line the server writes to stdout is a JSON-RPC message (its logs go to stderr)."""
    params = stdio_params(serve_index)
    lines: queue.Queue[str] = queue.Queue()
    with server_log(tmp_path) as log:
        proc = subprocess.Popen([params.command, *params.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=log, env=os.environ | (params.env or {}), cwd=params.cwd, text=True)
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()

        def send(message: dict[str, Any]) -> None:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()

        try:
            send(INITIALIZE)
            assert json.loads(lines.get(timeout=DEADLINE))["id"] == 1
            send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                  "params": {"name": "search", "arguments": {"query": QUERY, "k": 2}}})
            reply = json.loads(lines.get(timeout=DEADLINE))
            assert reply["id"] == 2 and not reply["result"].get("isError")
            assert {b["type"] for b in reply["result"]["content"]} == {"text", "image"}
            assert proc.stdin is not None
            proc.stdin.close()
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in rest if line.strip()), rest


# streamable HTTP ----------------------------------------------------------------------------------------------------
@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn-mcp-test")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


async def http_conversation(url: str, headers: dict[str, str] | None = None, mode: str = "auto") -> dict[str, Any]:
    async with httpx2.AsyncClient(headers=headers or {}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, read_timeout_seconds=60) as client:
            return {"tools": (await client.list_tools()).tools,
                    "search": await client.call_tool("search", {"query": QUERY}),
                    "chart": await client.call_tool("search", {"query": QUERY, "kind": "chart"})}


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # auto: the 2026 protocol; legacy: the initialize handshake
def test_http_tools(service: IndexService, mode: str) -> None:
    with serving(create_app(service)) as base:
        out = run(lambda: http_conversation(f"{base}/mcp", mode=mode))
    assert {tool.name for tool in out["tools"]} == TOOLS
    check_search(out["search"])
    assert out["chart"].is_error and "'chart'" in texts(out["chart"])


def test_http_exact_path_and_host_checks(service: IndexService) -> None:
    """POST /mcp is answered there (no redirect to /mcp/); without an API key, a request under a DNS name or from
    another origin is refused (DNS rebinding), one under localhost or an IP address is not."""
    with serving(create_app(service)) as base:
        port = base.rsplit(":", 1)[1]
        with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as http:
            ok = http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert ok.status_code == 200, ok.text
            assert ok.json()["result"]["serverInfo"]["name"] == "mmrag"
            local = http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS | {"Host": f"localhost:{port}",
                                                                                "Origin": f"http://localhost:{port}"})
            assert local.status_code == 200, local.text
            rebound = http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS | {"Host": f"evil.example:{port}"})
            assert rebound.status_code == 421 and "evil.example" in rebound.json()["error"]
            foreign = http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS | {"Origin": "https://evil.example"})
            assert foreign.status_code == 403


def test_http_api_key(service: IndexService) -> None:
    app = create_app(service, security=SecurityOptions(api_key="k"))
    with serving(app) as base:
        url = f"{base}/mcp"
        with httpx.Client(timeout=30, follow_redirects=False) as http:
            refused = http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
            assert refused.status_code == 401
            wrong = http.post(url, json=INITIALIZE, headers=MCP_HEADERS | {"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            # With a key the key is the guard: any Host name will do (a server bound with --host).
            named = http.post(url, json=INITIALIZE, headers=MCP_HEADERS | {
                "Authorization": "Bearer k", "Host": "mmrag.example"})
            assert named.status_code == 200, named.text
        with pytest.raises(Exception):  # noqa: B017 - the SDK reports a refused connection as an error group
            run(lambda: http_conversation(url))
        out = run(lambda: http_conversation(url, headers={"Authorization": "Bearer k"}))
    assert {tool.name for tool in out["tools"]} == TOOLS
    check_search(out["search"])


def test_http_lifespan_restarts(service: IndexService) -> None:
    """Each start of the app runs a fresh session manager; before the app starts, /mcp says so (503)."""
    app = create_app(service)
    outside = TestClient(app, base_url="http://127.0.0.1")  # not entered: no lifespan
    assert outside.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS).status_code == 503
    for _ in range(2):
        with TestClient(app, base_url="http://127.0.0.1") as client:
            reply = client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert reply.status_code == 200, reply.text


def test_fit_image() -> None:
    """Images go out as PNG or JPEG within the size limit; small PNGs pass untouched."""
    def png(size: tuple[int, int], noise: bool = False) -> bytes:
        img = Image.effect_noise(size, 80).convert("RGB") if noise else Image.new("RGB", size, "white")
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()

    small = png((300, 200))
    assert fit_image(small, "image/png", 1024) == (small, "image/png")
    data, media_type = fit_image(png((3000, 1500)), "image/png", 1024)
    assert media_type == "image/png" and Image.open(io.BytesIO(data)).size == (1024, 512)
    data, media_type = fit_image(png((300, 300), noise=True), "image/png", 256, max_bytes=50_000)
    assert media_type == "image/jpeg" and Image.open(io.BytesIO(data)).size == (256, 256)
    buf = io.BytesIO()
    Image.new("RGB", (50, 40), "red").save(buf, format="WEBP")
    data, media_type = fit_image(buf.getvalue(), "image/webp", 1024)
    assert media_type == "image/png" and Image.open(io.BytesIO(data)).format == "PNG"
