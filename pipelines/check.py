"""`mmrag check`: verify an index (manifest, store, each channel against the store, pixel files) and repair it.

Each problem is a Finding, one line: an `error` makes the index inconsistent (a search could miss or show wrong
things), a `notice` costs only disk space or is expected while a writer runs. `repair` fixes what it can:
purges half-written documents, re-embeds documents whose vectors are missing or stale, drops orphan vectors,
restores missing pixel files by re-rendering the document from its source file, deletes unreferenced pixel files.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.errors import IndexLocked
from mmrag.pipelines.lock import WriterLock
from mmrag.pipelines.manifest import SCHEMA_VERSION, read_manifest, stale_channels
from mmrag.store import INDEXING, READY, sha256_file

if TYPE_CHECKING:
    from mmrag.indexes.base import Channel
    from mmrag.pipelines.index import MMIndex

log = logging.getLogger(__name__)

ERROR = "error"
NOTICE = "notice"


@dataclass
class Finding:
    """One problem: its level, what was checked (manifest, store, vectors, pixels), where, and what is wrong."""

    level: str
    check: str
    message: str
    channel: str | None = None
    doc: str | None = None
    repaired: bool = False

    def line(self) -> str:
        where = " ".join(x for x in (self.channel, f"{self.doc}:" if self.doc else None) if x)
        fixed = " [repaired]" if self.repaired else ""
        return f"{self.level} {self.check}: {where + ' ' if where else ''}{self.message}{fixed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckReport:
    index: str
    findings: list[Finding]
    writer_active: bool

    @property
    def ok(self) -> bool:
        """No error left unrepaired."""
        return not any(f.level == ERROR and not f.repaired for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "ok": self.ok, "writer_active": self.writer_active,
                "findings": [f.to_dict() for f in self.findings]}


def writer_active(root: Path) -> bool:
    """True when another process holds the index's writer lock."""
    try:
        with WriterLock(root):
            return False
    except IndexLocked:
        return True


def check_index(index: MMIndex, repair: bool = False) -> CheckReport:
    """Verify the index; with repair (under the writer lock), fix what can be fixed, then verify again.

    After a repair each first finding says whether it is gone (`repaired`); problems the repair could not fix
    stay errors, and any new ones are appended.
    """
    if not repair:
        active = writer_active(index.root)
        return CheckReport(str(index.root), _find(index, active), active)
    with WriterLock(index.root):  # before the channels load: a running writer holds the text shard
        findings = _find(index, False)
        if not findings:
            return CheckReport(str(index.root), findings, False)
        _repair(index, findings)
        remaining = _find(index, False)
    left = {_key(f) for f in remaining}
    for f in findings:
        f.repaired = _key(f) not in left
    before = {_key(f) for f in findings}
    return CheckReport(str(index.root), findings + [f for f in remaining if _key(f) not in before], False)


def _key(f: Finding) -> tuple[str, str | None, str | None, str]:
    return (f.check, f.channel, f.doc, f.message)


# finding ----------------------------------------------------------------------------------------------------------
def _find(index: MMIndex, writer_running: bool) -> list[Finding]:
    out: list[Finding] = []
    out += _check_manifest(index)
    out += _check_store(index, writer_running)
    for name, channel in index.channels.items():
        out += _check_channel(index, name, channel, writer_running)
    out += _check_pixels(index, writer_running)
    return out


def _check_manifest(index: MMIndex) -> list[Finding]:
    out = []
    try:
        m = read_manifest(index.root)
    except ValueError as exc:
        return [Finding(ERROR, "manifest", f"manifest.json is not valid JSON: {exc}")]
    if m is None:
        return [Finding(ERROR, "manifest", "manifest.json is missing")]
    if m.get("schema") != SCHEMA_VERSION:
        out.append(Finding(ERROR, "manifest", f"schema version {m.get('schema')!r}, this mmrag reads {SCHEMA_VERSION}"))
    if "settings" not in m:
        out.append(Finding(ERROR, "manifest", "holds no settings"))
    current = {name: ch.fingerprint() for name, ch in index.channels.items()}
    for name in stale_channels(m, current):
        out.append(Finding(ERROR, "fingerprint", f"vectors were made with {m['channels'][name].get('fingerprint')}, "
                                                  f"the current models give {current[name]}", channel=name))
    stored = m.get("channels", {})
    for name in current:
        if not stored.get(name, {}).get("fingerprint") and index.store.documents(status=READY):
            out.append(Finding(ERROR, "fingerprint", "the manifest records no model fingerprint", channel=name))
    for name, reason in index.disabled.items():
        if stored.get(name, {}).get("status") == "enabled":
            out.append(Finding(NOTICE, "channel", f"has vectors but cannot be loaded now: {reason}", channel=name))
    return out


def _check_store(index: MMIndex, writer_running: bool) -> list[Finding]:
    out = []
    result = index.store.db.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        out.append(Finding(ERROR, "store", f"SQLite integrity: {result}"))
    mixed = index.store.db.execute(
        "SELECT DISTINCT d.doc FROM documents d JOIN elements e ON e.doc = d.doc WHERE e.doc_sha256 != d.sha256"
    ).fetchall()
    for (doc,) in mixed:
        out.append(Finding(ERROR, "store", "elements were parsed from another version of the file than the one "
                                          "recorded; re-index it", doc=doc))
    for d in index.store.documents(status=INDEXING):
        if writer_running:
            out.append(Finding(NOTICE, "store", "being written by the running writer", doc=d["doc"]))
        else:
            out.append(Finding(ERROR, "store", "half written (a run was killed); it is purged and redone by the "
                                               "next `mmrag index`", doc=d["doc"]))
    return out


def _wanted(name: str, channel: Channel) -> Any:
    """Which elements a channel holds vectors of (the rule its `add` applies)."""
    holds = getattr(channel, "holds", None)  # a channel that says it itself (the pages channel)
    if holds is not None:
        return holds
    if name == "image":
        kinds = set(channel.settings.kinds)
        return lambda e: e.kind in kinds and bool(e.image)
    return lambda e: bool(e.searchable_text().strip())


def channel_elements(channel: Channel) -> dict[str, str] | None:
    """Element id -> document of every vector in a channel; None when its backend cannot list them."""
    for owner in (channel, getattr(channel, "store", None)):  # the FAISS channel itself; the Qdrant text store
        if owner is not None and hasattr(owner, "point_elements"):
            return owner.point_elements()
    return None


def _check_channel(index: MMIndex, name: str, channel: Channel, writer_running: bool) -> list[Finding]:
    have = channel_elements(channel)
    if have is None:
        return [Finding(NOTICE, "vectors", "this backend cannot list its vectors; not checked", channel=name)]
    wanted = _wanted(name, channel)
    ready = {d["doc"] for d in index.store.documents(status=READY)}
    known = {d["doc"] for d in index.store.documents()}
    store_ids = index.store.element_ids()
    out = []
    expected: dict[str, set[str]] = {}
    for e in index.store.elements():
        if wanted(e):
            expected.setdefault(e.doc, set()).add(e.id)
    held: dict[str, set[str]] = {}
    for eid, doc in have.items():
        held.setdefault(doc, set()).add(eid)
    for doc in sorted(ready):
        missing = expected.get(doc, set()) - held.get(doc, set())
        if missing:
            out.append(Finding(ERROR, "vectors", f"{len(missing)} element(s) have no vector", channel=name, doc=doc))
    for doc, ids in sorted(held.items()):
        if doc not in known:
            level = NOTICE if writer_running else ERROR
            out.append(Finding(level, "vectors", f"{len(ids)} orphan vector(s) of a document not in the store",
                               channel=name, doc=doc))
            continue
        if doc not in ready:
            continue  # reported by the store check
        orphans = {eid for eid in ids if store_ids.get(eid) != doc}
        if orphans:
            out.append(Finding(ERROR, "vectors", f"{len(orphans)} orphan vector(s) of elements not in the store",
                               channel=name, doc=doc))
    return out


def _check_pixels(index: MMIndex, writer_running: bool) -> list[Finding]:
    store = index.store
    refs = store.referenced_pixels()
    on_disk = store.pixel_keys()
    docs_of = dict(store.db.execute("SELECT id, doc FROM elements").fetchall())
    out = []
    bad: dict[str, list[str]] = {}
    for key, eids in refs.items():
        path = store.pixel_path(key)
        if key not in on_disk:
            reason = "missing"
        elif hashlib.sha256(path.read_bytes()).hexdigest() != key.partition(".")[0]:
            reason = "damaged"
        else:
            continue
        for eid in eids:
            bad.setdefault(docs_of.get(eid, "?"), []).append(f"{key} ({reason})")
    for doc, keys in sorted(bad.items()):
        out.append(Finding(ERROR, "pixels", f"{len(keys)} pixel file(s) missing or damaged: {', '.join(keys[:3])}"
                           + (" …" if len(keys) > 3 else ""), doc=doc))
    orphans = on_disk - set(refs)
    if orphans:
        level = NOTICE
        out.append(Finding(level, "pixels", f"{len(orphans)} pixel file(s) no element refers to"
                           + (" (the running writer may still use them)" if writer_running else "")))
    return out


# repairing --------------------------------------------------------------------------------------------------------
def _repair(index: MMIndex, findings: list[Finding]) -> None:
    from mmrag.pipelines.ingest import reembed
    from mmrag.pipelines.purge import recover_interrupted

    store = index.store
    # Half-written documents and vectors of documents the store does not know: purge (the next run redoes them).
    recover_interrupted(index.parts)
    for f in findings:  # pixels before vectors: the image channel embeds them
        if f.check == "pixels" and f.doc:
            _restore_pixels(index, f.doc)
    stale = sorted({f.channel for f in findings if f.check == "fingerprint" and f.channel})
    if stale:
        reembed(index.parts, channels=stale)
    # Missing vectors, or vectors of elements the store no longer has: re-embed the document in that channel.
    redo = sorted({(f.channel, f.doc) for f in findings if f.check == "vectors" and f.channel and f.doc
                   and f.channel not in stale and store.document(f.doc) is not None})
    for name, doc in redo:
        channel = index.channels[name]
        channel.delete_docs([doc])
        channel.add(list(store.elements(doc=doc)), store.read_pixels)
        channel.flush()
    store.garbage_collect_pixels()
    index.save_manifest()  # the fingerprints of re-embedded channels


def _restore_pixels(index: MMIndex, doc: str) -> bool:
    """Re-render a document's pixel files from its source file (when it is unchanged); True when all are back."""
    from mmrag.ingest import parse_pdf

    info = index.store.document(doc)
    if info is None or not Path(info["path"]).is_file() or sha256_file(info["path"]) != info["sha256"]:
        log.warning("%s: the source file %s is gone or changed; re-index it to restore its pixels", doc,
                    info["path"] if info else "?")
        return False
    wanted = {e.image for e in index.store.elements(doc=doc, ready_only=False) if e.image}
    for key in wanted:  # damaged files go first, so that put_pixels writes them again
        path = index.store.pixel_path(key)
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != key.partition(".")[0]:
            path.unlink()
    parse_pdf(info["path"], doc, index.settings.ingest, index.store.put_pixels, ocr=index.ocr)
    return all(index.store.pixel_path(k).exists() for k in wanted)
