"""Taking documents out of an index: purging what a killed run half wrote, removing documents (`mmrag remove`,
`mmrag index --prune`). Works on the index's parts (`IndexParts`); the caller holds the writer lock."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mmrag.crash import kill_point
from mmrag.store import INDEXING

if TYPE_CHECKING:
    from mmrag.pipelines.parts import IndexParts


def recover_interrupted(parts: IndexParts) -> list[str]:
    """Purge documents a killed run left half-written (returned), and vectors of documents the store no longer has.

    Channels (and their models) are opened only when something was left half-written or they are open already.
    """
    store = parts.store
    broken = [d["doc"] for d in store.documents(status=INDEXING)]
    if broken or parts.channels.is_open:
        known = {d["doc"] for d in store.documents()}
        for channel in parts.channels.open().values():
            orphans = channel.docs() - known
            if broken or orphans:
                channel.delete_docs(set(broken) | orphans)
    for doc in broken:
        store.delete_document(doc)
    return broken


def prune_missing(parts: IndexParts, files: Sequence[tuple[Path, str]]) -> list[str]:
    """Remove every indexed document that is not among `files` (`mmrag index --prune`); returns their names."""
    seen = {doc for _, doc in files}
    gone = [d["doc"] for d in parts.store.documents() if d["doc"] not in seen]
    for doc in gone:
        remove_document(parts, doc)
    return gone


def remove_document(parts: IndexParts, doc: str) -> bool:
    """Remove a document everywhere: channel vectors, store rows, unreferenced pixel files; False if unknown.

    The caller holds the writer lock. The document is marked `indexing` first, so a kill half way leaves it for
    the next run to purge, never half present. Channels open without their models where the manifest allows.
    """
    store = parts.store
    if store.document(doc) is None:
        return False
    store.mark_indexing(doc)
    for channel in parts.channels.open_without_models().values():
        channel.delete_docs([doc])
        channel.flush()
        kill_point("remove")
    store.delete_document(doc)
    store.garbage_collect_pixels()
    return True
