"""Open a PDF and validate it: not a PDF, corrupt, truncated, encrypted, empty, too long."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pymupdf

from mmrag.errors import BadPDF, CorruptPDF, EmptyPDF, EncryptedPDF


@dataclass
class OpenedPDF:
    doc: pymupdf.Document
    sha256: str
    warnings: list[str]


def open_pdf(path: str | Path, max_pages: int) -> OpenedPDF:
    """Open path as a PDF; raise a BadPDF subclass naming the file and the reason when it cannot be ingested."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptPDF(path, f"cannot read file: {exc.strerror or exc}") from exc
    if b"%PDF-" not in data[:1024]:
        kind = "empty file" if not data else "no %PDF- header"
        raise CorruptPDF(path, f"not a PDF ({kind})")
    pymupdf.TOOLS.mupdf_warnings(reset=True)
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:
        raise CorruptPDF(path, f"cannot be opened: {exc}") from exc
    warnings: list[str] = []
    if doc.is_repaired:
        if b"%%EOF" not in data[-2048:]:
            doc.close()
            raise CorruptPDF(path, "truncated (no %%EOF marker; the cross-reference table had to be rebuilt)")
        warnings.append("damaged cross-reference table was repaired")
    if doc.needs_pass:
        doc.close()
        raise EncryptedPDF(path, "encrypted: needs a password")
    if doc.page_count == 0:
        doc.close()
        raise EmptyPDF(path, "has no pages")
    if doc.page_count > max_pages:
        n = doc.page_count
        doc.close()
        raise BadPDF(path, f"has {n} pages, more than max_pages={max_pages}")
    return OpenedPDF(doc, hashlib.sha256(data).hexdigest(), warnings)
