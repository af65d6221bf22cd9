"""The element store: SQLite rows for documents and elements, content-addressed pixel files.

One file on purpose (~340 lines): it is one class over one index's durable state, whose rows and pixel files are
kept in step by the same protocol (a document is `indexing` until finished; pixels are referenced by rows and
collected by a query over them); split, that protocol would be spread over files that cannot change apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from mmrag.crash import kill_point
from mmrag.elements import Element
from mmrag.references import (
    FOLIO_AFTER,
    FOLIO_BEFORE,
    FOLIO_CHARS,
    KINDS,
    OPENING_CHARS,
    SECTION_KINDS,
    appendix_start,
    names_folio,
    opens_with,
    section_matches,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    pages INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,            -- indexing | ready
    info TEXT NOT NULL DEFAULT '{}',
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS elements (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    doc_sha256 TEXT NOT NULL,
    page INTEGER NOT NULL,
    kind TEXT NOT NULL,
    x0 REAL, y0 REAL, x1 REAL, y1 REAL,
    text TEXT NOT NULL DEFAULT '',
    caption TEXT NOT NULL DEFAULT '',
    image TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    ord INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS elements_doc ON elements(doc);
CREATE INDEX IF NOT EXISTS elements_page ON elements(doc, page);
CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

READY = "ready"
INDEXING = "indexing"
_PIXEL_KEY = re.compile(r"^[0-9a-f]{64}\.[A-Za-z0-9]{1,8}$")
_PIXEL_EXT = re.compile(r"^[A-Za-z0-9]{1,8}$")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write through a temp file in the same folder and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ElementStore:
    """Documents and elements in SQLite (`elements.db`), pixels as files keyed by their hash (`pixels/`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.pixels_dir = self.root / "pixels"
        self.db = sqlite3.connect(self.root / "elements.db", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._ends: dict[str, list[PageEnds]] = {}  # what references read of each page (`page_ends`)
        self._ends_generation: tuple[int, float] | None = None

    def close(self) -> None:
        self.db.close()

    # pixels -------------------------------------------------------------------------------
    def put_pixels(self, data: bytes, ext: str = "png") -> str:
        """Store image bytes once; the key is their sha256 plus extension."""
        if not _PIXEL_EXT.match(ext):
            raise ValueError(f"pixel extension {ext!r}: use letters and digits only")
        key = f"{hashlib.sha256(data).hexdigest()}.{ext}"
        path = self.pixel_path(key)
        if not path.exists():
            kill_point("parse")
            atomic_write_bytes(path, data)
        return key

    def pixel_path(self, key: str) -> Path:
        """The file of a pixel key; a key that is not `<sha256>.<ext>` is refused, so no key leaves `pixels/`."""
        if not _PIXEL_KEY.match(key):
            raise ValueError(f"not a pixel key: {key!r}")
        return self.pixels_dir / key[:2] / key

    def pixel_keys(self) -> set[str]:
        """Every pixel key with a file under `pixels/`."""
        if not self.pixels_dir.exists():
            return set()
        return {p.name for p in self.pixels_dir.glob("*/*") if _PIXEL_KEY.match(p.name)}

    def referenced_pixels(self) -> dict[str, list[str]]:
        """Pixel key -> ids of the elements that use it."""
        refs: dict[str, list[str]] = {}
        for key, eid in self.db.execute("SELECT image, id FROM elements WHERE image IS NOT NULL"):
            refs.setdefault(key, []).append(eid)
        return refs

    def read_pixels(self, key: str) -> bytes:
        return self.pixel_path(key).read_bytes()

    def garbage_collect_pixels(self) -> int:
        """Delete pixel files no element refers to; returns how many went."""
        used = {row[0] for row in self.db.execute("SELECT DISTINCT image FROM elements WHERE image IS NOT NULL")}
        removed = 0
        if not self.pixels_dir.exists():
            return 0
        for path in self.pixels_dir.glob("*/*"):
            if path.name not in used and (_PIXEL_KEY.match(path.name) or path.name.startswith(".tmp-")):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    # documents ----------------------------------------------------------------------------
    def document(self, doc: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT doc, path, sha256, pages, status, info, updated FROM documents WHERE doc=?", (doc,)
        ).fetchone()
        return _doc_row(row) if row else None

    def documents(self, status: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT doc, path, sha256, pages, status, info, updated FROM documents"
        rows = self.db.execute(sql + " WHERE status=? ORDER BY doc", (status,)) if status else self.db.execute(
            sql + " ORDER BY doc"
        )
        return [_doc_row(r) for r in rows]

    def generation(self) -> tuple[int, float]:
        """(ready documents, latest change): changes whenever a document finishes, is replaced or removed."""
        n, latest = self.db.execute(
            "SELECT COUNT(*), COALESCE(MAX(updated), 0) FROM documents WHERE status=?", (READY,)).fetchone()
        return int(n), float(latest)

    def begin_document(self, doc: str, path: str, sha256: str, pages: int, elements: list[Element]) -> None:
        """Replace a document's rows with new elements, marked `indexing` until `finish_document`."""
        with self.transaction():
            self.db.execute("DELETE FROM elements WHERE doc=?", (doc,))
            self.db.execute(
                "INSERT OR REPLACE INTO documents(doc, path, sha256, pages, status, info, updated)"
                " VALUES (?,?,?,?,?,?,?)",
                (doc, path, sha256, pages, INDEXING, "{}", time.time()),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO elements(id, doc, doc_sha256, page, kind, x0, y0, x1, y1, text, caption,"
                " image, meta, ord) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (e.id, e.doc, e.doc_sha256, e.page, e.kind, *e.bbox, e.text, e.caption, e.image,
                     json.dumps(e.meta), i)
                    for i, e in enumerate(elements)
                ],
            )
        kill_point("store")

    def mark_indexing(self, doc: str) -> None:
        """Mark a document as being written (hidden from searches; purged by the next run if this one dies)."""
        self.db.execute("UPDATE documents SET status=?, updated=? WHERE doc=?", (INDEXING, time.time(), doc))

    def element_ids(self, doc: str | None = None, kinds: Iterable[str] | None = None) -> dict[str, str]:
        """Element id -> document, of every element (any status), optionally of one document and some kinds."""
        sql, args = "SELECT id, doc FROM elements WHERE 1=1", []
        if doc is not None:
            sql += " AND doc=?"
            args.append(doc)
        if kinds is not None:
            kinds = list(kinds)
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        return dict(self.db.execute(sql, args).fetchall())

    def add_elements(self, doc: str, elements: Sequence[Element], first_ord: int) -> None:
        """Append elements to a document being written (after `begin_document`), numbered from first_ord."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO elements(id, doc, doc_sha256, page, kind, x0, y0, x1, y1, text, caption,"
                " image, meta, ord) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (e.id, doc, e.doc_sha256, e.page, e.kind, *e.bbox, e.text, e.caption, e.image,
                     json.dumps(e.meta), first_ord + i)
                    for i, e in enumerate(elements)
                ],
            )

    def finish_document(self, doc: str, info: dict[str, Any] | None = None) -> None:
        self.db.execute(
            "UPDATE documents SET status=?, info=?, updated=? WHERE doc=?",
            (READY, json.dumps(info or {}), time.time(), doc),
        )

    def delete_document(self, doc: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM elements WHERE doc=?", (doc,))
            self.db.execute("DELETE FROM documents WHERE doc=?", (doc,))

    # elements -----------------------------------------------------------------------------
    def elements(
        self, doc: str | None = None, kinds: Iterable[str] | None = None, ready_only: bool = True
    ) -> Iterator[Element]:
        sql = "SELECT e.* FROM elements e JOIN documents d ON d.doc = e.doc WHERE 1=1"
        args: list[Any] = []
        if ready_only:
            sql += " AND d.status=?"
            args.append(READY)
        if doc is not None:
            sql += " AND e.doc=?"
            args.append(doc)
        if kinds:
            kinds = list(kinds)
            sql += f" AND e.kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        sql += " ORDER BY e.doc, e.ord"
        cur = self.db.execute(sql, args)
        names = [c[0] for c in cur.description]
        for row in cur:
            yield _element(dict(zip(names, row)))

    def get(self, ids: Iterable[str], ready_only: bool = True) -> dict[str, Element]:
        """Elements by id; those of documents not yet ready are left out."""
        ids = list(ids)
        out: dict[str, Element] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = (
                "SELECT e.* FROM elements e JOIN documents d ON d.doc = e.doc"
                f" WHERE e.id IN ({','.join('?' * len(chunk))})"
            )
            args: list[Any] = list(chunk)
            if ready_only:
                sql += " AND d.status=?"
                args.append(READY)
            cur = self.db.execute(sql, args)
            names = [c[0] for c in cur.description]
            for row in cur:
                e = _element(dict(zip(names, row)))
                out[e.id] = e
        return out

    def page_element_id(self, doc: str, page: int) -> str | None:
        row = self.db.execute(
            "SELECT id FROM elements WHERE doc=? AND page=? AND kind='page'", (doc, page)
        ).fetchone()
        return row[0] if row else None

    def page_element(self, doc: str, page: int) -> Element | None:
        """The page element (its render and full text) of a ready document's page."""
        eid = self.page_element_id(doc, page)
        return self.get([eid]).get(eid) if eid else None

    def referenced_elements(self, docs: Iterable[str], kind: str, value: str, offset: int = 0) -> list[str]:
        """Ids of what a reference names in these ready documents (see `mmrag.references`), page order.

        kind "page": the page element whose physical number or printed label is `value` (meta.label, or where the
        PDF defines no labels a folio printed in the page's first or last lines); "first" / "last": the value-th
        page from the start / end ("1" the first, "-1" the last); "appendix": the pages from where an appendix
        starts (a page opening with "Appendix" / "Annex", past the first third) to the end, or from where appendix
        `value` ("b") starts to where the next one does; "heading": the first page that opens with `value`;
        "section" / "section_start" / "section_end": the pages of the section the parser recorded whose title best
        answers `value` ("part 2", "risk factor"; see `references.section_matches`), or its first / last page;
        "figure" / "table": elements whose caption label is "Figure <value>" / "Table <value>".
        offset: -1 / +1 names the page before / after what is named (before its first page, after its last).
        """
        docs = list(docs)
        if not docs:
            return []
        if kind in ("figure", "table"):
            if offset:
                raise ValueError("an offset names a page next to a page, not next to a figure or table")
            label = ("Table " if kind == "table" else "Figure ") + value
            marks = ",".join("?" * len(docs))
            sql = ("SELECT e.id FROM elements e JOIN documents d ON d.doc=e.doc WHERE d.status=?"
                   f" AND e.doc IN ({marks}) AND lower(json_extract(e.meta, '$.label'))=lower(?)"
                   " ORDER BY e.doc, e.page, e.ord")
            return [row[0] for row in self.db.execute(sql, [READY, *docs, label])]
        if kind not in KINDS:
            raise ValueError(f"unknown reference kind {kind!r}")
        found: set[tuple[str, int]] = set()
        for doc, spans in self._named_pages(docs, kind, value).items():
            for span in spans:
                found.update((doc, n) for n in ([(span[0] if offset < 0 else span[-1]) + offset] if offset else span))
        ids = {(doc, p.page): p.id for doc in {d for d, _ in found} for p in self._ends[doc]}
        return [ids[f] for f in sorted(found) if f in ids]

    def _named_pages(self, docs: list[str], kind: str, value: str) -> dict[str, list[list[int]]]:
        """Document -> the page spans (each a list of consecutive pages) that a page-like reference names."""
        out: dict[str, list[list[int]]] = {}
        for doc, pages in self.page_ends(docs).items():
            numbers = [p.page for p in pages]
            lo, hi = min(numbers), max(numbers)
            if kind in ("first", "last"):
                out[doc] = [[lo + int(value) - 1 if kind == "first" else hi + int(value) + 1]]
            elif kind == "page":
                # the page of that number or label, or (no labels in the PDF) a folio with it at the text's ends,
                # looked for where front matter puts it (a printed 12 a few pages on; roman numerals up front)
                n = int(value) if value.isdigit() else -1
                near = range(n - FOLIO_BEFORE, n + FOLIO_AFTER + 1) if n > 0 else range(1, FOLIO_AFTER + 1)
                spans = [[p.page] for p in pages if p.page == n or p.label == value or (
                    not p.label and p.page in near and names_folio(p.opening, p.ending, value))]
                if spans:
                    out[doc] = spans
            elif kind == "heading":
                first = next((p.page for p in pages if opens_with(p.opening, value)), None)
                if first is not None:
                    out[doc] = [[first]]
            elif kind in SECTION_KINDS:
                span = _section_span(pages, value)
                if span:
                    out[doc] = [span if kind == "section" else [span[0] if kind == "section_start" else span[-1]]]
            elif kind == "appendix":
                starts = [(p.page, part) for p in pages if p.page > hi / 3
                          and (part := appendix_start(p.opening)) is not None]
                if starts and not value:
                    out[doc] = [list(range(starts[0][0], hi + 1))]
                begin = next((page for page, part in starts if value and part == value), None)
                if begin is not None:
                    stop = next((page for page, part in starts if page > begin and part != value), hi + 1)
                    out[doc] = [list(range(begin, stop))]
            else:
                raise ValueError(f"reference kind {kind!r} names no pages")
        return out

    def page_ends(self, docs: list[str]) -> dict[str, list[PageEnds]]:
        """The page elements of these ready documents as references read them (id, number, label, the opening
        and the end of the text), page order; read once per document and kept until the index changes."""
        gen = self.generation()
        if self._ends_generation != gen:
            self._ends, self._ends_generation = {}, gen
        missing = [d for d in docs if d not in self._ends]
        if missing:
            marks = ",".join("?" * len(missing))
            rows = self.db.execute(
                "SELECT e.doc, e.id, e.page, json_extract(e.meta, '$.label'), substr(e.text, 1, ?), substr(e.text, -?),"
                " json_extract(e.meta, '$.sections')"
                f" FROM elements e JOIN documents d ON d.doc=e.doc WHERE d.status=? AND e.doc IN ({marks})"
                " AND e.kind='page' ORDER BY e.doc, e.page", [OPENING_CHARS, FOLIO_CHARS, READY, *missing])
            found: dict[str, list[PageEnds]] = {d: [] for d in missing}
            for doc, eid, page, label, opening, ending, sections in rows:
                titles = tuple(dict.fromkeys(t for path in json.loads(sections or "[]") for t in path))
                found[doc].append(PageEnds(eid, page, str(label) if label else "", opening, ending, titles))
            self._ends.update(found)
        return {d: self._ends[d] for d in docs if self._ends.get(d)}

    def counts(self, doc: str | None = None, ready_only: bool = True) -> dict[str, int]:
        """Elements by kind: of every ready document, or of one document."""
        sql = "SELECT e.kind, COUNT(*) FROM elements e JOIN documents d ON d.doc=e.doc WHERE 1=1"
        args: list[Any] = []
        if ready_only:
            sql += " AND d.status=?"
            args.append(READY)
        if doc is not None:
            sql += " AND e.doc=?"
            args.append(doc)
        return {k: n for k, n in self.db.execute(sql + " GROUP BY e.kind", args)}

    # a small key-value cache (e.g. generated captions keyed by pixel hash) --------------------
    def cache_get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM cache WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def cache_put(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO cache(key, value) VALUES (?,?)", (key, value))

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)


class PageEnds(NamedTuple):
    id: str  # the page element's
    page: int
    label: str  # the printed label the PDF defines ("iv"), "" where none
    opening: str  # the first OPENING_CHARS characters of the page's text
    ending: str  # its last FOLIO_CHARS characters
    sections: tuple[str, ...] = ()  # the titles of every section in force on the page (outer ones included)


def _section_span(pages: list[PageEnds], value: str) -> list[int]:
    """The pages of the section that best answers a section reference: the title that matches it best (see
    `section_matches`), over its longest run of consecutive pages (a contents page that lists it loses)."""
    best: tuple[float, int] = (0.0, 0)
    span: list[int] = []
    scores: dict[str, float] = {}
    run: dict[str, list[int]] = {}
    for p in [*pages, PageEnds("", -1, "", "", "")]:  # a sentinel page ends every run
        for title in list(run):
            if title not in p.sections or run[title][-1] != p.page - 1:
                key = (scores[title], len(run[title]))
                if key > best:
                    best, span = key, run[title]
                del run[title]
        for title in p.sections:
            if title not in scores:
                scores[title] = section_matches(value, title)
            if scores[title] > 0:
                run.setdefault(title, []).append(p.page)
    return span


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _doc_row(row: tuple) -> dict[str, Any]:
    doc, path, sha, pages, status, info, updated = row
    return {"doc": doc, "path": path, "sha256": sha, "pages": pages, "status": status,
            "info": json.loads(info), "updated": updated}


def _element(row: dict[str, Any]) -> Element:
    return Element(
        id=row["id"], doc=row["doc"], doc_sha256=row["doc_sha256"], page=row["page"], kind=row["kind"],
        bbox=(row["x0"], row["y0"], row["x1"], row["y1"]), text=row["text"], caption=row["caption"],
        image=row["image"], meta=json.loads(row["meta"]),
    )
