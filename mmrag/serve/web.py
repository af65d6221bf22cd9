"""The web page of `mmrag serve`: server-rendered HTML (Jinja2, autoescaped) with a little static CSS and JS.

- `/`: a question box with filters; the answer, its citations, and the evidence as thumbnails (crops, and page
  renders with the cited box drawn), each opening its page at full size; per hit, which channels found it and at
  what rank.
- `/documents`, `/documents/{doc}`, `/documents/{doc}/pages/{n}`: the documents, a document's pages and elements
  by kind, and a page viewer that draws an element's box.
- `/report`: the newest eval report (report.md and its plots) in the index folder, when there is one.
- `/login`: where a browser gives the API key once (a cookie then carries it).

Document text only ever reaches the page through autoescaping; the report's Markdown is rendered with raw HTML off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from mmrag.elements import KINDS
from mmrag.errors import MMRagError
from mmrag.serve import VERSION as __version__
from mmrag.serve.security import COOKIE, key_matches
from mmrag.serve.service import MEDIA_TYPES, IndexService, NotFound

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(version=__version__, kinds=[k for k in KINDS], quote=quote)
templates.env.filters["channels"] = lambda channels: channel_ranks(channels)


def web_routes(app: FastAPI, service: IndexService) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"nav": name, **context}, status_code=status)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def ask_page(request: Request, q: str | None = None, doc: str | None = None, kind: list[str] = Query(None),
                 pages: str | None = None, k: int = 6, stream: bool = True) -> HTMLResponse:
        """The answer is rendered here; when the generator streams, the page is rendered with the evidence at
        once and static/app.js streams the answer into it from POST /api/ask (`stream=0`: wait for it here)."""
        docs = service.document_names()
        form = {"q": q or "", "doc": doc or "", "kind": kind or [], "pages": pages or "", "k": k}
        if not q:
            return page(request, "ask.html", form=form, docs=docs, health=service.health())
        params = {"doc": doc or None, "kind": ",".join(kind) if kind else None, "pages": pages or None, "k": k}
        try:
            if stream and service.streams():
                service.check_ask(q, **params)
                hits = service.search(q, **params)["hits"]  # what ask retrieves: the same call, the same k
                pending = {"answer": "", "generator": "", "supported": True, "citations": [], "hits": hits}
                return page(request, "ask.html", form=form, docs=docs, answer=pending, cited=set(), streaming=True,
                            health=service.health())
            answer = service.ask(q, **params)
        except MMRagError as exc:
            return page(request, "ask.html", status=400, form=form, docs=docs, error=str(exc),
                        health=service.health())
        cited = {c["element_id"] for c in answer["citations"]}
        return page(request, "ask.html", form=form, docs=docs, answer=answer, cited=cited, health=service.health())

    @app.get("/documents", response_class=HTMLResponse, include_in_schema=False)
    def documents_page(request: Request) -> HTMLResponse:
        return page(request, "documents.html", info=service.documents(), report=service.report() is not None)

    @app.get("/documents/{doc}", response_class=HTMLResponse, include_in_schema=False)
    def document_page(request: Request, doc: str) -> HTMLResponse:
        try:
            info = service.document(doc)
        except NotFound as exc:
            return page(request, "error.html", status=404, error=str(exc))
        return page(request, "document.html", d=info)

    @app.get("/documents/{doc}/pages/{number}", response_class=HTMLResponse, include_in_schema=False)
    def page_view(request: Request, doc: str, number: int, element: str | None = None) -> HTMLResponse:
        try:
            info = service.document(doc)
            on_page = [e for items in info["elements"].values() for e in items if e["page"] == number]
            if not any(p["page"] == number for p in info["page_list"]):
                raise NotFound(f"page {number} of {doc!r}: not in this index")
            chosen = service.element(element) if element else None
        except NotFound as exc:
            return page(request, "error.html", status=404, error=str(exc))
        return page(request, "page.html", d=info, number=number, elements=on_page,
                    chosen=chosen if chosen is not None and (chosen.doc, chosen.page) == (doc, number) else None)

    @app.get("/report", response_class=HTMLResponse, include_in_schema=False)
    def report_page(request: Request) -> HTMLResponse:
        report = service.report()
        if report is None:
            return page(request, "report.html", html=None, folder=None)
        return page(request, "report.html", html=render_report(report.read_text(encoding="utf-8")),
                    folder=report.parent.name)

    @app.get("/report/files/{name:path}", include_in_schema=False)
    def report_file(name: str) -> Response:
        report = service.report()
        files = report_files(report.parent) if report else {}
        if name not in files:  # the name is a key of the folder's listing, never part of a path
            return Response(status_code=404)
        path = files[name]
        return Response(path.read_bytes(), media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"))

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html")

    @app.post("/login", include_in_schema=False, response_model=None)
    def login(request: Request, key: str = Form("")) -> Response:
        if not key_matches(request.app.state.security, key):
            return page(request, "login.html", status=401, error="wrong key")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, quote(key), httponly=True, samesite="strict")
        return response


def channel_ranks(channels: dict[str, dict[str, float]]) -> list[str]:
    """"text #1 (dense #1, lexical #3)" for each channel that found a hit."""
    out = []
    for name, info in channels.items():
        sides = [f"{key[:-5]} #{int(v)}" for key, v in info.items() if key.endswith("_rank") and v]
        label = f"{name} #{int(info['rank'])}" if "rank" in info else name
        out.append(label + (f" ({', '.join(sides)})" if sides else ""))
    return out


REPORT_SUFFIXES = tuple(MEDIA_TYPES)


def report_files(folder: Path) -> dict[str, Path]:
    """The images of a report folder by their relative path: what /report/files/ may serve."""
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
            if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES}


def render_report(markdown: str) -> str:
    """report.md as HTML: raw HTML in it is escaped, relative image links point at /report/files/."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(markdown)
    for token in tokens:
        for child in token.children or []:
            if child.type == "image":
                src = str(child.attrGet("src") or "")
                if "://" not in src and not src.startswith(("/", "data:")):
                    child.attrSet("src", "/report/files/" + quote(src))
    return md.renderer.render(tokens, md.options, {})
