"""The HTTP door of `mmrag serve`: a FastAPI application over an `IndexService`.

`create_app(service, ...)` gives the JSON API under /api (the CLI's `--json` shapes), the web page at / (see
`mmrag.serve.web`), OpenAPI at /docs (its assets shipped with fastapi-offline: no CDN), and MCP over streamable
HTTP at /mcp. Every route is a plain `def`: FastAPI runs it in its thread pool, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as ApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from mmrag.errors import MMRagError
from mmrag.params import MAX_PAGE, MAX_QUERY_CHARS, BadParameter, check_k, check_text
from mmrag.serve import VERSION as __version__
from mmrag.serve.security import SecurityOptions, install_security
from mmrag.serve.service import MAX_ASK_K, MAX_SEARCH_K, IndexService, NotFound

log = logging.getLogger(__name__)

IMAGE_CACHE = "private, max-age=3600"  # element ids and pixel files are content-addressed


class ErrorBody(BaseModel):
    """Every error the API answers: one line naming the bad value and, where there are some, the allowed ones."""

    error: str


BAD = {422: {"model": ErrorBody, "description": "A bad parameter (the CLI's message for the same value)"}}
MISSING = {404: {"model": ErrorBody, "description": "No such document, page or element in this index"}}


class AskBody(BaseModel):
    """`POST /api/ask`: a question, optional filters, and whether to stream the answer as server-sent events."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question.")
    doc: str | None = Field(None, description="Only these documents (comma-separated file names).")
    kind: str | None = Field(None, description="Only these kinds: text,figure,table,page.")
    pages: str | None = Field(None, description="Page range, e.g. 3-5.")
    k: int = Field(6, ge=1, le=MAX_ASK_K, description=f"How many hits go to the generator (1-{MAX_ASK_K}).")
    stream: bool = Field(False, description="Send the answer's tokens as server-sent events, then the answer.")


def create_app(service: IndexService, *, security: SecurityOptions | None = None, mcp: bool = True,
               uploads: Any = None) -> FastAPI:
    """The application. security: API key, CORS origin, body limit; mcp: serve MCP at /mcp;
    uploads: an `UploadJobs` when `--allow-upload` (POST /api/documents, GET /api/jobs/{id})."""
    from fastapi_offline import FastAPIOffline

    lifespans: list[Callable[[], contextlib.AbstractAsyncContextManager[Any]]] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for enter in lifespans:
                await stack.enter_async_context(enter())
            yield

    app = FastAPIOffline(title="mmrag", version=__version__, lifespan=lifespan,
                         description="Search, ask and browse a multimodal PDF index.")
    app.state.service = service
    app.state.lifespans = lifespans
    _install_errors(app)
    _api_routes(app, service)
    if uploads is not None:
        from mmrag.serve.uploads import upload_routes

        upload_routes(app, uploads)
    from mmrag.serve.web import web_routes

    web_routes(app, service)
    if mcp:
        from mmrag.serve.mcp_server import attach_mcp

        attach_mcp(app, service)
    install_security(app, security or SecurityOptions())
    return app


def error(status: int, message: str) -> JSONResponse:
    """The one error shape of the API: {"error": "<one line>"}."""
    return JSONResponse({"error": message.splitlines()[0] if message else "error"}, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(BadParameter)
    async def bad_parameter(_: Request, exc: BadParameter) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(MMRagError)
    async def bad_request(_: Request, exc: MMRagError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, validation_message(exc.errors()[0] if exc.errors() else {}))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404:
            message = f"not found: {request.url.path[:200]}"
        elif exc.status_code == 400 and "parsing the body" in message:
            message = 'the request body is not JSON: send {"question": "…"} with Content-Type: application/json'
        response = error(exc.status_code, message)
        response.headers.update(exc.headers or {})  # 405 keeps its Allow header
        return response

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return error(500, f"internal error ({type(exc).__name__}); the server log has the details")


def _api_routes(app: FastAPI, service: IndexService) -> None:
    @app.get("/api/health", tags=["index"])
    def health() -> dict[str, Any]:
        """Liveness and what is served: documents, enabled and disabled channels. No API key needed."""
        return service.health()

    @app.get("/api/search", tags=["retrieval"], responses=BAD)
    def search(
        q: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for."),
        k: int = Query(10, ge=1, le=MAX_SEARCH_K, description=f"How many hits (1-{MAX_SEARCH_K})."),
        doc: str | None = Query(None, description="Only these documents (comma-separated)."),
        kind: str | None = Query(None, description="Only these kinds: text,figure,table,page."),
        pages: str | None = Query(None, description="Page range, e.g. 3-5."),
        channel: str = Query("all", description="all (fused), text, image, pages, or one ranking such as text:dense."),
    ) -> dict[str, Any]:
        """Ranked elements with each channel's rank: the shape of `mmrag search --json`."""
        return with_image_urls(service.search(q, channel=channel, doc=doc, kind=kind, pages=pages, k=k))

    @app.post("/api/ask", tags=["retrieval"], response_model=None, responses={
        **BAD, 400: {"model": ErrorBody, "description": "A body that is not JSON"},
        200: {"content": {"text/event-stream": {}}, "description": "The answer (JSON, or events with stream)"}})
    def ask(body: AskBody) -> dict[str, Any] | StreamingResponse:
        """An answer with citations and its evidence: the shape of `mmrag ask --json`. With `"stream": true`,
        server-sent events: `token` events ({"text"}) while the generator writes, then one `answer` event."""
        params = {"doc": body.doc, "kind": body.kind, "pages": body.pages, "k": body.k}
        if body.stream:
            service.check_ask(body.question, **params)  # a bad parameter is a 4xx, not an event
            return StreamingResponse(_answer_events(service, body.question, params), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        return with_image_urls(service.ask(body.question, **params))

    @app.get("/api/documents", tags=["index"])
    def documents() -> dict[str, Any]:
        """Documents, pages, elements by kind and channel status: the shape of `mmrag inspect --json`."""
        return service.documents()

    @app.get("/api/documents/{doc}", tags=["index"], responses=MISSING)
    def document(doc: str) -> dict[str, Any]:
        """One document: its pages and its elements by kind."""
        return service.document(doc)

    @app.get("/api/documents/{doc}/pages/{page}/image", tags=["pixels"], response_class=Response,
             responses={**BAD, **MISSING, 200: {"content": {"image/png": {}}, "description": "The page render"}})
    def page_image(doc: str, page: int = ApiPath(..., ge=1, le=MAX_PAGE, description="1-based page number"),
                   boxes: str | None = Query(
            None, description="Element ids (comma-separated) whose boxes to draw")) -> Response:
        """A page render, with the boxes of the named elements drawn in red."""
        data, media_type = service.page_image(doc, page, boxes=[b for b in (boxes or "").split(",") if b])
        return Response(data, media_type=media_type, headers={"Cache-Control": IMAGE_CACHE})

    @app.get("/api/elements/{element_id}", tags=["index"], responses=MISSING)
    def element(element_id: str) -> dict[str, Any]:
        """One element: document, page, kind, box, text, caption, and where its pixels are served."""
        info = service.element_info(element_id)
        info.pop("image", None)
        return {**info, "image_url": image_url(element_id) if info["has_image"] else None,
                "page_image_url": image_url(element_id, box=True)}

    @app.get("/api/elements/{element_id}/image", tags=["pixels"], response_class=Response,
             responses={**BAD, **MISSING, 200: {"content": {"image/png": {}, "image/webp": {}},
                                                "description": "The crop or page render"}})
    def element_image(element_id: str, box: bool = Query(
            False, description="The element's page render with its box drawn, instead of its crop."),
            w: int | None = Query(None, ge=32, le=4096, description="Scale down to at most this width (pixels).")
    ) -> Response:
        """The element's crop (figures, tables) or page render (pages, and `?box=1`)."""
        data, media_type = service.element_image(element_id, box=box, width=w)
        return Response(data, media_type=media_type, headers={"Cache-Control": IMAGE_CACHE})


def validation_message(first: dict[str, Any]) -> str:
    """One line for a value the schema refused: the CLI's message where the CLI checks the same value (an empty
    or overlong question, k out of range), else the name, the value and what the schema wants."""
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path")]
    name = ".".join(loc) or "request"
    value = first.get("input")
    kind = str(first.get("type", ""))
    limits = {"k": MAX_SEARCH_K if first.get("loc", ("",))[0] == "query" else MAX_ASK_K}
    try:
        if name in ("q", "question") and kind.startswith("string_too"):
            check_text(name, value)
        if name in limits and kind in ("greater_than_equal", "less_than_equal"):
            check_k(name, int(value), limits[name])  # a query string's value arrives as text
    except BadParameter as exc:
        return str(exc)
    except (TypeError, ValueError):
        pass
    shown = "" if isinstance(value, dict) or value is None else f" {str(value)[:80]!r}"
    return f"{name}{shown}: {first.get('msg', 'invalid value')}"


def image_url(element_id: str, box: bool = False) -> str:
    return f"/api/elements/{element_id}/image" + ("?box=1" if box else "")


def with_image_urls(data: dict[str, Any]) -> dict[str, Any]:
    """The CLI's JSON, where each hit's `pixels` (a file of the index) becomes the URL that serves it."""
    for hit in data.get("hits", []):
        hit["pixels"] = image_url(hit["element_id"]) if hit.get("pixels") else None
        hit["page_image_url"] = image_url(hit["element_id"], box=True)
    return data


async def _answer_events(service: IndexService, question: str, params: dict[str, Any]) -> AsyncIterator[str]:
    """Run `ask` in a worker thread and relay its tokens, then its answer, as server-sent events."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(event: str, data: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (event, data))

    def work() -> None:
        try:
            answer = service.ask(question, on_token=lambda text: put("token", {"text": text}), **params)
            put("answer", with_image_urls(answer))
        except MMRagError as exc:
            put("error", {"error": str(exc)})
        except Exception as exc:  # reported as an event: the response has already started
            log.exception("ask failed while streaming")
            put("error", {"error": f"internal error ({type(exc).__name__}); the server log has the details"})

    threading.Thread(target=work, daemon=True, name="mmrag-ask-stream").start()
    while True:
        event, data = await queue.get()
        yield sse(event, data)
        if event in ("answer", "error"):
            return


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, data) of a server-sent event stream read line by line (for clients and tests)."""
    event = "message"
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            yield event, json.loads(line[5:].strip())
            event = "message"
