"""Evaluation questions: the Question record and loaders for mmrag JSONL and BEIR-style qrels.

mmrag JSONL, one object a line:
    {"id", "question", "doc", "pages": [1-based ints], "answer"?: str | [str], "evidence"?: [type], "elements"?: [ids]}

BEIR: a directory (or its `queries.jsonl`) with `queries.jsonl` ({"_id", "text"}) and `qrels/*.tsv`
(query-id, corpus-id, score; a header line is allowed). Corpus ids name pages in one of two forms:
    "file.pdf#p3"  (tried first)      "file.pdf_3"  (the digits after the last underscore)
Rows with score <= 0 are not relevant. A query without relevant rows is unanswerable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmrag.errors import MMRagError

EVIDENCE_TYPES: tuple[str, ...] = ("Text", "Table", "Chart", "Figure", "Layout")

_HASH_PAGE = re.compile(r"^(?P<doc>.+)#p(?P<page>\d+)$")
_UNDERSCORE_PAGE = re.compile(r"^(?P<doc>.+)_(?P<page>\d+)$")


class BadQuestions(MMRagError):
    """A questions file that cannot be read; the message names the file, the line and the problem."""

    def __init__(self, path: object, reason: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass
class Question:
    """One evaluation question. `page_refs` is the relevance: (doc, 1-based page) pairs."""

    id: str
    question: str
    doc: str
    pages: list[int] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    elements: list[str] = field(default_factory=list)
    page_refs: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.page_refs:
            self.page_refs = [(self.doc, p) for p in self.pages]

    @property
    def answerable(self) -> bool:
        return bool(self.page_refs)

    @property
    def docs(self) -> list[str]:
        """The documents that hold the evidence (the question's own doc when there is none)."""
        docs = sorted({d for d, _ in self.page_refs})
        return docs or ([self.doc] if self.doc else [])


def parse_page_id(corpus_id: str) -> tuple[str, int]:
    """("file.pdf", 3) from "file.pdf#p3" or "file.pdf_3"."""
    m = _HASH_PAGE.match(corpus_id) or _UNDERSCORE_PAGE.match(corpus_id)
    if m is None:
        raise ValueError(f"corpus id {corpus_id!r} names no page: use 'file.pdf#p3' or 'file.pdf_3'")
    return m["doc"], int(m["page"])


def load_questions(path: str | Path) -> list[Question]:
    """Questions from an mmrag JSONL file, a BEIR directory, or a BEIR queries.jsonl with qrels/ beside it."""
    p = Path(path)
    if p.is_dir():
        if not (p / "queries.jsonl").is_file():
            raise BadQuestions(p, "a directory of questions must hold queries.jsonl and qrels/*.tsv (BEIR)")
        return _load_beir(p / "queries.jsonl", p / "qrels")
    if not p.is_file():
        raise BadQuestions(p, "no such file")
    rows = list(_read_jsonl(p))
    if rows and "_id" in rows[0][1] and "question" not in rows[0][1]:
        return _load_beir(p, p.parent / "qrels")
    _unique(p, rows, "id")
    return [_from_mmrag(p, line, row) for line, row in rows]


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadQuestions(path, f"not JSON ({exc.msg})", n) from None
        if not isinstance(row, dict):
            raise BadQuestions(path, "each line must be a JSON object", n)
        rows.append((n, row))
    return rows


def _unique(path: Path, rows: list[tuple[int, dict[str, Any]]], key: str) -> None:
    seen: set[str] = set()
    for line, row in rows:
        qid = str(row.get(key, ""))
        if qid in seen:
            raise BadQuestions(path, f"duplicate question id {qid!r}", line)
        seen.add(qid)


def _from_mmrag(path: Path, line: int, row: dict[str, Any]) -> Question:
    for key in ("id", "question", "doc"):
        if row.get(key) in (None, ""):
            raise BadQuestions(path, f"missing {key!r}", line)
    pages = row.get("pages") or []
    if not isinstance(pages, list) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in pages):
        raise BadQuestions(path, "'pages' must be a list of 1-based page numbers", line)
    evidence = row.get("evidence") or []
    unknown = [e for e in evidence if e not in EVIDENCE_TYPES]
    if unknown:
        raise BadQuestions(path, f"unknown evidence type(s) {unknown}; use {list(EVIDENCE_TYPES)}", line)
    answer = row.get("answer")
    answers = [str(a) for a in answer] if isinstance(answer, list) else ([] if answer is None else [str(answer)])
    return Question(
        id=str(row["id"]),
        question=str(row["question"]),
        doc=str(row["doc"]),
        pages=sorted(set(pages)),
        answers=answers,
        evidence=list(dict.fromkeys(evidence)),
        elements=[str(e) for e in row.get("elements") or []],
    )


def _load_beir(queries: Path, qrels_dir: Path) -> list[Question]:
    rows = _read_jsonl(queries)
    _unique(queries, rows, "_id")
    qrel_files = sorted(qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []
    if not qrel_files:
        raise BadQuestions(qrels_dir, "no qrels/*.tsv beside the BEIR queries")
    refs: dict[str, list[tuple[str, int]]] = {}
    for f in qrel_files:
        for n, raw in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            cols = raw.strip().split("\t")
            if not raw.strip() or (n == 1 and cols[0].lower() in ("query-id", "query_id", "qid")):
                continue
            if len(cols) < 3:
                raise BadQuestions(f, "expected query-id, corpus-id, score", n)
            try:
                ref, score = parse_page_id(cols[1]), float(cols[2])
            except ValueError as exc:
                raise BadQuestions(f, str(exc), n) from None
            if score > 0 and ref not in refs.setdefault(cols[0], []):
                refs[cols[0]].append(ref)
    out = []
    for _, row in rows:
        qid = str(row["_id"])
        page_refs = sorted(refs.get(qid, []))
        doc = page_refs[0][0] if page_refs else str(row.get("metadata", {}).get("doc", ""))
        out.append(
            Question(
                id=qid,
                question=str(row.get("text", "")),
                doc=doc,
                pages=sorted({p for d, p in page_refs if d == doc}),
                page_refs=page_refs,
            )
        )
    return out
