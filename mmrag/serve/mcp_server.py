"""The MCP door of an `IndexService`: tools for search, ask, page images and the document list.

`build_mcp_server(service)` gives an `mcp.server.mcpserver.MCPServer` (MCP SDK 2.x) with four tools:

- `search(query, doc, kind, pages, k)`: ranked elements as text (one block per hit), each figure, table or page hit
  followed by its crop as image content (at most `MAX_SEARCH_IMAGES`, downscaled to `SEARCH_IMAGE_SIDE` pixels);
- `ask(question, doc, kind, pages, k)`: the answer, its generator and its citations;
- `get_page_image(doc, page)`: a page render;
- `list_documents()`: the ready documents with their pages and elements by kind, and the channels.

The tools are plain (sync) functions: the SDK runs them in a worker thread, off the event loop, as the service
requires. A bad parameter or an unknown document or page (`MMRagError`: `BadParameter`, `NotFound`) is a tool error
(`isError`) whose text is the service's one-line message, and so are arguments that do not fit a tool's schema (a
missing query, a k that is not a number: `argument_errors`); anything else is logged here and reaches the client
as the SDK's generic "Error executing tool <name>", never a traceback.

Two transports: `run_stdio(service)` (`mmrag mcp`) and `attach_mcp(app, service)`, streamable HTTP at `/mcp` inside
the FastAPI app of `mmrag serve` (stateless, JSON responses: every POST stands alone, so it works behind any proxy
and across restarts, and no session outlives its request).
"""

from __future__ import annotations

import base64
import contextlib
import io
import ipaddress
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import Field, ValidationError
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mmrag.errors import MMRagError
from mmrag.params import check_text
from mmrag.serve import VERSION as __version__
from mmrag.serve.service import IndexService

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
TEXT_CHARS = 500  # characters of a hit's text in a search result
MAX_SEARCH_IMAGES = 5  # image blocks in one search result
SEARCH_IMAGE_SIDE = 1024  # the longest side of a search result's image, in pixels
PAGE_IMAGE_SIDE = 1568  # the longest side of get_page_image's render: large enough to read a page's text
MAX_IMAGE_BYTES = 300_000  # a PNG over this is sent as JPEG
IMAGE_KINDS = ("figure", "table", "page")  # hits whose pixels are what they are; a text hit's would be its page

INSTRUCTIONS = (
    "Search and question a multimodal index of PDF documents (text passages, figures, tables and pages). "
    "Use `search` to find evidence (figures, tables and pages come with their images), `ask` for an answer "
    "with citations, `get_page_image` to look at a whole page, and `list_documents` for what the index holds."
)

_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                             open_world_hint=False)

DocArg = Annotated[str | None, Field(description="Only these documents: file names as list_documents shows them, "
                                                 "comma-separated (e.g. report.pdf). Default: all.")]
KindArg = Annotated[str | None, Field(description="Only these kinds of element, comma-separated: text, figure, "
                                                  "table, page. Default: all.")]
PagesArg = Annotated[str | None, Field(description="Only this page or page range, e.g. 3 or 3-5. Default: all.")]


class _Server(MCPServer):
    """The SDK's server, with arguments that fail the tools' schemas reported in one line.

    The SDK passes pydantic's multi-line report on ("1 validation error for searchArguments", the field, the
    message, a documentation link, each on a line of its own); a client and the model behind it get instead
    `search: k: Input should be a valid integer, unable to parse string as an integer`.
    """

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc, UnexpectedToolError) or not isinstance(exc.__cause__, ValidationError):
                raise
            raise ToolError(argument_errors(name, exc.__cause__)) from exc.__cause__


def argument_errors(tool: str, exc: ValidationError) -> str:
    """A validation error as one line: the tool, then each argument with what is wrong with it."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        parts.append(f"{where} is required" if err["type"] == "missing" else f"{where}: {err['msg']}")
    return f"{tool}: " + "; ".join(" ".join(p.split()) for p in parts)


def build_mcp_server(service: IndexService) -> MCPServer:
    """An MCP server whose tools call `service` (from the SDK's worker threads)."""
    server: MCPServer = _Server("mmrag", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(annotations=_READ_ONLY)
    def search(
        query: Annotated[str, Field(description="What to look for: words, a phrase or a question.")],
        doc: DocArg = None,
        kind: KindArg = None,
        pages: PagesArg = None,
        k: Annotated[int, Field(description="How many hits (1-100).")] = 5,
    ) -> CallToolResult:
        """Search the indexed PDFs. Returns the ranked hits (document, page, kind, box, score, the rank each
        retrieval channel gave it, its text and its element_id), each figure, table or page hit followed by its
        image."""
        return _tool("search", lambda: _search(service, query, doc=doc, kind=kind, pages=pages, k=k))

    @server.tool(annotations=_READ_ONLY)
    def ask(
        question: Annotated[str, Field(description="The question to answer from the indexed PDFs.")],
        doc: DocArg = None,
        kind: KindArg = None,
        pages: PagesArg = None,
        k: Annotated[int, Field(description="How many hits the answer is drawn from (1-20).")] = 6,
    ) -> CallToolResult:
        """Answer a question from the indexed PDFs, with citations (document, page, kind, element_id, box) of
        the evidence it used."""
        return _tool("ask", lambda: _ask(service, question, doc=doc, kind=kind, pages=pages, k=k))

    @server.tool(annotations=_READ_ONLY)
    def get_page_image(
        doc: Annotated[str, Field(description="The document's file name, as list_documents or search show it.")],
        page: Annotated[int, Field(description="The page number, from 1.")],
    ) -> CallToolResult:
        """The rendered image of one page of a document."""
        return _tool("get_page_image", lambda: _page_image(service, doc, page))

    @server.tool(annotations=_READ_ONLY)
    def list_documents() -> CallToolResult:
        """The documents in the index, with their pages and their elements by kind, and the retrieval channels."""
        return _tool("list_documents", lambda: _documents(service))

    return server


# the tools --------------------------------------------------------------------------------------------------------
def _tool(name: str, work: Callable[[], list[ContentBlock]]) -> CallToolResult:
    """Run a tool's work: a bad parameter or an unknown thing is an error result with the one-line message."""
    try:
        return CallToolResult(content=work())
    except MMRagError as exc:
        message = (str(exc).splitlines() or [type(exc).__name__])[0]
        log.info("MCP tool %s: %s", name, message)
        return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def _search(service: IndexService, query: str, **params: Any) -> list[ContentBlock]:
    query = check_text("query", query)  # the tool's own name for it in the message (the service says "q")
    result = service.search(query, **params)
    hits = result["hits"]
    shown = f" (doc {params['doc']})" if params.get("doc") else ""
    blocks: list[ContentBlock] = [_text(f"{len(hits)} hit(s) for {query!r}{shown}." if hits else
                                        f"No hits for {query!r}{shown}.")]
    images = 0
    for rank, hit in enumerate(hits, 1):
        image: ImageContent | None = None
        note = ""
        if hit["kind"] in IMAGE_KINDS and hit.get("pixels"):
            if images < MAX_SEARCH_IMAGES:
                try:
                    image = _image(*service.element_image(hit["element_id"]), SEARCH_IMAGE_SIDE)
                    images += 1
                    note = "image: below"
                except MMRagError as exc:
                    note = f"image: unavailable ({exc})"
            else:
                note = "image: not attached (limit reached); use get_page_image"
        blocks.append(_text(_hit_text(rank, hit, note)))
        if image is not None:
            blocks.append(image)
    return blocks


def _hit_text(rank: int, hit: dict[str, Any], note: str) -> str:
    text = (hit.get("text") or "").strip()
    if len(text) > TEXT_CHARS:
        text = text[:TEXT_CHARS].rstrip() + "…"
    lines = [
        f"[{rank}] {hit['doc']} p.{hit['page']} · {hit['kind']} · score {hit['score']:.4f}",
        f"bbox: {_bbox(hit.get('bbox'))}",
        f"channels: {_channels(hit.get('channels') or {})}",
        f"element_id: {hit['element_id']}",
    ]
    if note:
        lines.append(note)
    return "\n".join(lines) + ("\n" + text if text else "")


def _channels(channels: dict[str, Any]) -> str:
    """"text #1 (dense #3, lexical #1, rrf #1)": each channel's rank, and the ranks of its rankings."""
    parts = []
    for name, info in sorted(channels.items()):
        subs = [f"{key[:-5]} #{value}" for key, value in sorted(info.items())
                if key.endswith("_rank") and value is not None]
        parts.append(f"{name} #{info.get('rank')}" + (f" ({', '.join(subs)})" if subs else ""))
    return "; ".join(parts) or "none"


def _bbox(bbox: Any) -> str:
    return "[" + ", ".join(f"{float(v):.1f}" for v in bbox) + "]" if bbox else "none"


def _ask(service: IndexService, question: str, **params: Any) -> list[ContentBlock]:
    answer = service.ask(question, **params)
    lines = [answer["answer"].strip(), "",
             f"generator: {answer.get('generator')} · supported by the evidence: "
             f"{'yes' if answer.get('supported') else 'no'}"]
    citations = answer.get("citations") or []
    lines.append("citations:" if citations else "citations: none")
    for c in citations:
        lines.append(f"{c.get('marker')} {c['doc']} p.{c['page']} · {c.get('kind')} · element_id "
                     f"{c.get('element_id')} · bbox {_bbox(c.get('bbox'))}")
    return [_text("\n".join(lines))]


def _page_image(service: IndexService, doc: str, page: int) -> list[ContentBlock]:
    data, media_type = service.page_image(doc, page)
    return [_text(f"{doc} p.{page}"), _image(data, media_type, PAGE_IMAGE_SIDE)]


def _documents(service: IndexService) -> list[ContentBlock]:
    info = service.documents()
    docs = info.get("docs", [])
    lines = [f"{len(docs)} document(s), {sum(d.get('pages') or 0 for d in docs)} page(s)."]
    for d in docs:
        lines.append(f"- {d['doc']}: {d.get('pages')} page(s); elements: {_counts(d.get('elements') or {})}")
    for name, channel in sorted((info.get("channels") or {}).items()):
        status = channel.get("status", "?")
        reason = f" ({channel['reason'].splitlines()[0]})" if channel.get("reason") else ""
        lines.append(f"channel {name}: {status}{reason}")
    return [_text("\n".join(lines))]


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"


def _text(text: str) -> TextContent:
    return TextContent(type="text", text=text)


def _image(data: bytes, media_type: str, max_side: int) -> ImageContent:
    """Image content for a client: PNG or JPEG, at most `max_side` pixels a side, a large PNG made JPEG."""
    data, media_type = fit_image(data, media_type, max_side)
    return ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type=media_type)


def fit_image(data: bytes, media_type: str, max_side: int, max_bytes: int = MAX_IMAGE_BYTES) -> tuple[bytes, str]:
    """(bytes, media type) of an image as PNG or JPEG, at most `max_side` pixels a side.

    A PNG or JPEG within both limits passes untouched. Otherwise it is scaled down and re-encoded: a JPEG as JPEG,
    anything else as PNG, or as JPEG when the PNG is over `max_bytes`."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if media_type in ("image/png", "image/jpeg") and max(img.size) <= max_side and len(data) <= max_bytes:
            return data, media_type
        img.load()
        out = img.copy()
    out.thumbnail((max_side, max_side))
    if out.mode not in ("RGB", "RGBA", "L", "LA"):
        out = out.convert("RGBA" if "A" in out.getbands() or "transparency" in out.info else "RGB")
    if media_type != "image/jpeg":  # a JPEG (a photograph) stays one
        buf = io.BytesIO()
        out.save(buf, format="PNG")
        if buf.tell() <= max_bytes:
            return buf.getvalue(), "image/png"
    buf = io.BytesIO()
    if out.mode in ("RGBA", "LA"):
        flat = Image.new("RGB", out.size, "white")
        flat.paste(out, mask=out.getchannel("A"))
        out = flat
    out.convert("RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue(), "image/jpeg"


# stdio ------------------------------------------------------------------------------------------------------------
def run_stdio(service: IndexService) -> None:
    """Serve MCP over this process's stdin and stdout until stdin closes (`mmrag mcp`).

    Only protocol messages reach stdout: while serving, the SDK points fd 1 at stderr for everything else, and
    logging (configured here when nothing configured it) writes to stderr. Output before this call (loading models
    in `service.warm()`) is the caller's to keep off stdout, e.g. with `contextlib.redirect_stdout(sys.stderr)`.
    """
    import anyio

    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server = build_mcp_server(service)
    anyio.run(server.run_stdio_async)


# streamable HTTP --------------------------------------------------------------------------------------------------
def attach_mcp(app: Any, service: IndexService, *, allowed_hosts: list[str] | None = None) -> None:
    """Serve the MCP server over streamable HTTP at exactly `/mcp` of `app` (a FastAPI app from `create_app`).

    The endpoint is a route, not a mount, so `POST /mcp` is answered without a redirect to `/mcp/`. The SDK's
    session manager runs in the app's lifespan (`app.state.lifespans`); a fresh one each time the app starts.
    Stateless, with JSON responses.

    Host checks (DNS rebinding), decided when the app starts, from `app.state.security`:
    - with an API key: none; the key (a bearer header; the login cookie is never sent to a rebinding host name) is
      the guard, and CORS governs browsers as for the rest of the API;
    - without one: the Host header must be `localhost` or an IP address (any port), or one of `allowed_hosts`
      ("name" or "name:port"), since a DNS rebinding attack always arrives under its own host name; an Origin
      header, when sent, must be the same origin or a loopback one. So `--host 0.0.0.0` without a key serves
      clients that use the machine's IP address, and refuses those that use its DNS name (421): set an API key.
      (Starlette's TestClient sends `Host: testserver`: give it `base_url="http://127.0.0.1"`.)
    """
    endpoint = _MCPEndpoint(app, build_mcp_server(service), allowed_hosts or [])
    app.router.routes.insert(0, Route(MCP_PATH, endpoint=endpoint, name="mcp"))
    app.state.mcp = endpoint.server
    app.state.lifespans.append(endpoint.run)


class _MCPEndpoint:
    """The ASGI endpoint at /mcp: host checks, then the current session manager."""

    def __init__(self, app: Any, server: MCPServer, allowed_hosts: list[str]) -> None:
        self.app = app
        self.server = server
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.manager: StreamableHTTPSessionManager | None = None
        self.check_hosts = True

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        security = getattr(self.app.state, "security", None)
        self.check_hosts = not (security is not None and security.api_key)
        # The SDK's own Host/Origin lists match exact names only; the checks above are done in `__call__`. Its
        # Content-Type check for POST stays on.
        self.server.streamable_http_app(
            streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        manager = self.server.session_manager  # a new one per start: a manager runs only once
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.check_hosts:
            refused = self._refused(scope)
            if refused is not None:
                await _send_error(send, *refused)
                return
        if self.manager is None:
            await _send_error(send, 503, "MCP is not running: the application's lifespan has not started")
            return
        await self.manager.handle_request(scope, receive, send)

    def _refused(self, scope: Scope) -> tuple[int, str] | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self._host_allowed(host):
            log.warning("MCP request refused: Host %r (DNS rebinding protection; set an API key to allow)", host[:100])
            return 421, f"Host {host[:100]!r} is not allowed without an API key: use localhost or an IP address"
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if parts.netloc.lower() != host.lower() and not _is_loopback(parts.hostname or ""):
                log.warning("MCP request refused: Origin %r", origin[:100])
                return 403, f"Origin {origin[:100]!r} is not allowed"
        return None

    def _host_allowed(self, host: str) -> bool:
        host = host.strip().lower()
        if not host:
            return False
        name = urlsplit(f"//{host}").hostname or ""
        return host in self.allowed_hosts or name in self.allowed_hosts or name == "localhost" or _is_ip(name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


async def _send_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["attach_mcp", "build_mcp_server", "fit_image", "run_stdio"]
