"""IndexService: one open index behind every door of `mmrag serve` (the HTTP API, the web page, the MCP tools).

It parses each request's parameters with `mmrag.params` (the CLI's parsers and messages), answers with the CLI's
JSON shapes (`SearchResult.to_dict`, `Answer.to_dict`), and keeps the index fresh: the index is opened read-only
(a private copy of the Qdrant shard, beside a running `mmrag index`), and when documents finish, change or go, a
fresh view is opened in the background and swapped in; the models stay loaded (`MMIndex.reopened`).

Calls into the index hold one lock: the element store's SQLite connection and the channels are shared objects.
The doors call the service from worker threads, never from an event loop.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mmrag.elements import KINDS, Element
from mmrag.errors import MMRagError
from mmrag.params import MAX_PAGE, BadParameter, check_k, check_text, parse_choices, parse_list, parse_pages
from mmrag.pipelines.cited_images import page_with_boxes
from mmrag.pipelines.index import MMIndex, open_index

log = logging.getLogger(__name__)

MAX_SEARCH_K = 100
MAX_ASK_K = 20
TEXT_PREVIEW = 300  # characters of an element's text in document listings
_ELEMENT_ID = re.compile(r"^[0-9a-f]{16}$")


class NotFound(MMRagError):
    """A document, page or element the index does not hold."""


class IndexService:
    """Search, ask and browse one index folder, read-only, from many threads.

    overrides: dotted settings keys for this process only (e.g. {"generator.backend": "extractive"}), as the CLI's
    flags give them. refresh_seconds: how often a request may look for finished documents (a cheap SQLite query).
    """

    def __init__(self, index: str | Path, overrides: Mapping[str, Any] | None = None,
                 refresh_seconds: float = 1.0) -> None:
        self.root = Path(index)
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.refresh_seconds = refresh_seconds
        self._lock = threading.RLock()  # every use of the index, and the swap to a fresh view
        self._reopen_lock = threading.Lock()
        self._index = open_index(self.root, create=False, read_only=True, overrides=self.overrides)
        self._generation = self._read_generation()
        self._checked = time.monotonic()
        self._reopening: threading.Thread | None = None
        self.started = time.time()

    # lifecycle ----------------------------------------------------------------------------------------------
    def warm(self) -> None:
        """Load what the first request would: the channels (and their models) and the generator."""
        with self._lock:
            _ = self._index.channels
            _ = self._index.generator

    def close(self) -> None:
        running = self._reopening
        if running is not None:
            running.join()
        with self._lock:
            self._index.close()

    def _read_generation(self) -> tuple[Any, ...]:
        manifest = self.root / "manifest.json"
        mtime = manifest.stat().st_mtime_ns if manifest.exists() else 0
        with self._lock:
            return (*self._index.store.generation(), mtime)

    def refresh(self, wait: bool = False) -> bool:
        """Look for finished, replaced or removed documents now; reopen when there are any. Returns whether the
        index changed since it was opened (a reopen is then under way, or done when `wait`)."""
        self._checked = time.monotonic()
        generation = self._read_generation()
        changed = generation != self._generation
        with self._reopen_lock:  # one reopen at a time
            if changed and self._reopening is None:
                self._reopening = threading.Thread(target=self._reopen, args=(generation,), daemon=True,
                                                   name="mmrag-reopen")
                self._reopening.start()
            running = self._reopening
        if wait and running is not None:
            running.join()
        return changed

    def _reopen(self, generation: tuple[Any, ...]) -> None:
        try:
            fresh = self._index.reopened()
            _ = fresh.channels  # copy the shard and load (or reuse) the models before anyone waits on it
            with self._lock:
                old, self._index, self._generation = self._index, fresh, generation
                old.close()
            log.info("index reopened: %s documents", generation[0])
        except Exception as exc:  # a failed reopen keeps the view we have; the next request tries again
            log.warning("could not reopen %s: %s", self.root, exc)
        finally:
            with self._reopen_lock:
                self._reopening = None

    @property
    def index(self) -> MMIndex:
        """The current view, after looking for finished documents when the last look is old enough."""
        if time.monotonic() - self._checked >= self.refresh_seconds:
            self.refresh()
        return self._index

    # the doors' calls ---------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        with self._lock:  # the view is taken under the lock: a reopen closes the old one under it
            index = self.index
            documents, _ = index.store.generation()
            disabled = dict(index.disabled)
            channels = sorted(index.channels)
        return {"status": "ok", "index": str(self.root), "documents": documents, "channels": channels,
                "disabled": disabled, "uptime_s": round(time.time() - self.started, 1)}

    def search(self, query: str | None, *, channel: str = "all", doc: str | None = None, kind: str | None = None,
               pages: str | None = None, k: int = 10) -> dict[str, Any]:
        """`mmrag search --json`: {"query", "references", "hits"}; parameters as the CLI takes them (strings)."""
        from mmrag.pipelines.query import CHANNEL_CHOICES

        query = check_text("q", query)
        channel = channel or "all"
        parse_choices("channel", channel, CHANNEL_CHOICES)
        kinds = parse_choices("kind", kind, KINDS)
        page_range = parse_pages("pages", pages)
        check_k("k", k, MAX_SEARCH_K)
        with self._lock:  # the view is taken under the lock: a reopen closes the old one under it
            index = self.index
            result = index.search_result(query, channel=channel, docs=parse_list(doc), kinds=kinds,
                                         pages=page_range, k=k)
        return result.to_dict()

    def ask(self, question: str | None, *, doc: str | None = None, kind: str | None = None,
            pages: str | None = None, k: int = 6, on_token: Callable[[str], None] | None = None) -> dict[str, Any]:
        """`mmrag ask --json`: {"answer", "generator", "supported", "citations", "hits"}.

        on_token: called with each piece of the answer as the generator writes it (once with the whole text when
        the generator does not stream).
        """
        question, filters = self.check_ask(question, doc=doc, kind=kind, pages=pages, k=k)
        with self._lock:  # the view is taken under the lock: a reopen closes the old one under it
            index = self.index
            hits = index.search(question, **filters)
            generator = index.generator
        # Generation runs outside the lock: it reads only the hits and their pixel files.
        if on_token is None:
            answer = generator.generate(question, hits)
        else:
            answer = generator.stream(question, hits, on_token)
        return answer.to_dict()

    @staticmethod
    def check_ask(question: str | None, *, doc: str | None = None, kind: str | None = None, pages: str | None = None,
                  k: int = 6) -> tuple[str, dict[str, Any]]:
        """The question and `MMIndex.search` filters of an ask request; BadParameter names a bad one."""
        question = check_text("question", question)
        filters = {"docs": parse_list(doc), "kinds": parse_choices("kind", kind, KINDS),
                   "pages": parse_pages("pages", pages), "k": check_k("k", k, MAX_ASK_K)}
        return question, filters

    def streams(self) -> bool:
        """Whether the configured generator writes its answer token by token."""
        with self._lock:
            return bool(getattr(self.index.generator, "streams", False))

    def documents(self) -> dict[str, Any]:
        """`mmrag inspect --json`, ready documents only."""
        with self._lock:  # the view is taken under the lock: a reopen closes the old one under it
            index = self.index
            info = index.inspect()
        info["docs"] = [d for d in info["docs"] if d["status"] == "ready"]
        info["index"] = self.root.name
        return info

    def document_names(self) -> list[str]:
        """The ready documents' names (what a document filter offers), without counting their elements."""
        with self._lock:
            return [d["doc"] for d in self.index.store.documents(status="ready")]

    def document(self, doc: str) -> dict[str, Any]:
        """One ready document: its pages (each with its page element) and its elements by kind."""
        with self._lock:  # the view is taken under the lock: a reopen closes the old one under it
            index = self.index
            row = index.store.document(doc)
            if row is None or row["status"] != "ready":
                raise NotFound(f"document {doc!r}: not in this index (see /api/documents)")
            elements = list(index.store.elements(doc=doc))
        pages = {e.page: e for e in elements if e.kind == "page"}
        by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS if kind != "page"}
        for e in elements:
            if e.kind != "page":
                by_kind.setdefault(e.kind, []).append(element_summary(e))
        return {
            "doc": doc, "pages": row["pages"], "sha256": row["sha256"],
            "counts": {kind: len(items) for kind, items in by_kind.items()} | {"page": len(pages)},
            "page_list": [{"page": n, "element_id": e.id, "label": e.meta.get("label"), "has_image": bool(e.image),
                           "elements": sum(1 for x in elements if x.page == n and x.kind != "page")}
                          for n, e in sorted(pages.items())],
            "elements": by_kind,
        }

    def element(self, element_id: str) -> Element:
        if not _ELEMENT_ID.match(element_id or ""):
            raise NotFound(f"element {element_id!r}: not in this index")
        with self._lock:  # the view is taken under the lock: a reopen closes the old one under it
            index = self.index
            element = index.store.get([element_id]).get(element_id)
        if element is None:
            raise NotFound(f"element {element_id!r}: not in this index")
        return element

    def element_info(self, element_id: str) -> dict[str, Any]:
        e = self.element(element_id)
        with self._lock:
            page_id = self.index.store.page_element_id(e.doc, e.page)
        return {**e.to_dict(), "has_image": bool(e.image), "page_element_id": page_id}

    def element_image(self, element_id: str, box: bool = False, width: int | None = None) -> tuple[bytes, str]:
        """(image bytes, media type): the element's crop (or page render), or with `box` its page render with its
        box drawn; `width`: scaled down to at most this many pixels wide (thumbnails).

        Only pixel files that the store names for an element are read; nothing of the request reaches a path.
        """
        e = self.element(element_id)
        if box or not e.image:
            try:
                page = self._page_element(e.doc, e.page)
            except NotFound:
                if not e.image:
                    raise
                return _scaled(self._pixels(e), width)  # a page MuPDF could not render: the crop alone
            rects = [e.bbox] if e.kind != "page" else []
            return _png(page_with_boxes(page, self._pixels(page)[0], rects), width)
        return _scaled(self._pixels(e), width)

    def page_image(self, doc: str, page: int, boxes: list[str] | None = None) -> tuple[bytes, str]:
        """(image bytes, media type) of a page render, with the boxes of these elements of that page drawn."""
        page_el = self._page_element(doc, page)
        rects = [e.bbox for e in map(self.element, boxes or []) if (e.doc, e.page) == (doc, page)]
        pixels = self._pixels(page_el)
        return _png(page_with_boxes(page_el, pixels[0], rects)) if rects else pixels

    def _page_element(self, doc: str, page: int) -> Element:
        found = None
        if 1 <= page <= MAX_PAGE:  # a larger number would overflow SQLite's integers
            with self._lock:
                found = self.index.store.page_element(doc, page)
        if found is None:
            raise NotFound(f"page {page} of {doc!r}: not in this index")
        if not found.image:
            raise NotFound(f"page {page} of {doc!r}: has no page image (it could not be rendered when it was "
                           f"indexed; its text, tables and figures are searchable)")
        return found

    def _pixels(self, e: Element) -> tuple[bytes, str]:
        assert e.image is not None
        with self._lock:
            path = self.index.store.pixel_path(e.image)
        try:
            return path.read_bytes(), MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
        except FileNotFoundError:
            raise NotFound(f"element {e.id}: its pixel file is missing (run `mmrag check --repair`)") from None

    def report(self) -> Path | None:
        """The newest eval report (report.md) in the index folder or one folder below it, if any."""
        found = [p for pattern in ("report.md", "*/report.md") for p in self.root.glob(pattern)]
        return max(found, key=lambda p: p.stat().st_mtime) if found else None


def element_summary(e: Element) -> dict[str, Any]:
    """An element as listings show it: where it is, what it is, the start of its text."""
    text = e.searchable_text()
    return {"element_id": e.id, "page": e.page, "kind": e.kind, "bbox": list(e.bbox), "caption": e.caption,
            "text": text[:TEXT_PREVIEW] + ("…" if len(text) > TEXT_PREVIEW else ""), "has_image": bool(e.image)}


MEDIA_TYPES = {".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _png(img: Any, width: int | None = None) -> tuple[bytes, str]:
    if width and img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue(), "image/png"


def _scaled(pixels: tuple[bytes, str], width: int | None) -> tuple[bytes, str]:
    """Stored pixels as they are, or a PNG at most `width` pixels wide."""
    if not width:
        return pixels
    from PIL import Image

    img = Image.open(io.BytesIO(pixels[0]))
    return _png(img.convert("RGB") if img.mode not in ("RGB", "RGBA", "L") else img, width) \
        if img.width > width else pixels


__all__ = ["MEDIA_TYPES", "BadParameter", "IndexService", "NotFound", "element_summary"]
