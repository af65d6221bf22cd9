"""What `mmrag serve` does to every request before a route sees it: the API key, the body limit, CORS, and the
headers that keep the web page to its own origin.

- API key: a bearer token (`Authorization: Bearer KEY`) on every route but `/api/health`, the login page and the
  static files. A browser signs in once at /login, which sets an HttpOnly, SameSite=Strict cookie holding the key.
- Body limit: a request body over the limit is refused with 413 before a route reads it (the declared
  Content-Length, and the bytes as they arrive for a chunked body).
- CORS: off unless an origin is given.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "mmrag_key"
PUBLIC_PATHS = ("/api/health", "/login", "/favicon.ico")
PUBLIC_PREFIXES = ("/static/",)
MAX_BODY_BYTES = 64 * 1024  # a question with filters fits many times over
MULTIPART_SLACK = 64 * 1024  # an upload's form framing around the PDF
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@dataclass
class SecurityOptions:
    """api_key: required on every route but the public ones (None: no key). cors_origin: the one origin allowed
    to call the API from a browser (None: CORS off). max_body_bytes: the largest request body, uploads aside;
    max_upload_bytes: the largest PDF upload."""

    api_key: str | None = None
    cors_origin: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_upload_bytes: int = 100 * 1024 * 1024


def install_security(app: FastAPI, options: SecurityOptions) -> None:
    """Wrap the application: body limit and key check run before anything else; CORS outside them, so that a
    preflight is answered without a key."""
    app.state.security = options

    @app.exception_handler(BodyTooLarge)
    async def too_large(_: Any, exc: BodyTooLarge) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": str(exc)}, status_code=413)

    app.add_middleware(_SecurityMiddleware, options=options)
    if options.cors_origin:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=[options.cors_origin], allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])


def key_matches(options: SecurityOptions, given: str | None) -> bool:
    return bool(options.api_key) and given is not None and hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), options.api_key.encode("utf-8", "surrogateescape"))


class _SecurityMiddleware:
    def __init__(self, app: ASGIApp, options: SecurityOptions) -> None:
        self.app = app
        self.options = options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = _headers(scope)
        if self.options.api_key and not _public(path) and not self._authorised(headers):
            if scope["method"] == "GET" and not path.startswith(("/api/", "/mcp", "/openapi.json")):
                await _send(send, 303, b"", [(b"location", b"/login")])
            else:
                await _send_error(send, 401, "missing or wrong API key: send the header Authorization: Bearer <key>",
                                  [(b"www-authenticate", b"Bearer")])
            return
        limit = self.options.max_upload_bytes + MULTIPART_SLACK if _is_upload(scope) else self.options.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_error(send, 413, f"request body of {declared} bytes: the limit is {limit} bytes")
            return
        await self.app(scope, _limited(receive, limit), _with_headers(send, path))

    def _authorised(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and key_matches(self.options, auth[7:].strip()):
            return True
        return key_matches(self.options, _cookie(headers.get("cookie", ""), COOKIE))


class BodyTooLarge(Exception):
    """A chunked request body went past the limit while it arrived."""


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(f"request body over {limit} bytes")
        return message

    return wrapped


def _with_headers(send: Send, path: str) -> Send:
    page = not path.startswith(("/api/", "/mcp", "/docs", "/redoc", "/openapi", "/static-offline-docs"))

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
            if page:
                extra += [(b"content-security-policy", PAGE_CSP.encode()), (b"x-frame-options", b"DENY")]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _is_upload(scope: Scope) -> bool:
    return scope["method"] == "POST" and scope.get("path") == "/api/documents"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            from urllib.parse import unquote

            return unquote(value)
    return None


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    await _send(send, status, body, [(b"content-type", b"application/json"), *(headers or [])])
