"""The storage contract behind the Qdrant channels (text, and image vectors by setting), shared by the Edge and
server backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mmrag.indexes.base import SearchFilter

DENSE = "dense"  # named dense vector of the text channel
LEXICAL = "lex"  # named sparse vector (BM25 term frequencies; Qdrant applies IDF at query time)
IMAGE = "image"  # named dense vector of the image channel (image.store = "qdrant")
# Payload fields with an index, so filters are evaluated by Qdrant's payload index, not by a scan.
KEYWORD_FIELDS = ("doc", "kind")
INTEGER_FIELDS = ("page",)


@dataclass(frozen=True)
class Layout:
    """The named vectors of a collection: one dense vector (cosine) and the BM25 sparse vector, or none."""

    dense: str = DENSE
    sparse: str | None = LEXICAL
    channel: str = "text"  # whose vectors these are (in messages)


TEXT_LAYOUT = Layout()
IMAGE_LAYOUT = Layout(IMAGE, None, "image")


@dataclass
class SparseTerms:
    """A sparse vector as plain lists (each backend converts it to its own type)."""

    indices: list[int]
    values: list[float]


@dataclass
class TextPoint:
    """One element as stored: point id, dense vector, BM25 terms (None when lexical is off or the layout has
    no sparse vector), payload."""

    id: int
    dense: list[float]
    sparse: SparseTerms | None
    payload: dict[str, Any]


class TextStore(Protocol):
    """A Qdrant collection (Edge shard or server collection) holding TextPoints in a `Layout`."""

    backend: str
    layout: Layout

    def upsert(self, points: Sequence[TextPoint]) -> None: ...

    def query(
        self, dense: list[float] | None, sparse: SparseTerms | None, k: int, flt: SearchFilter | None
    ) -> list[tuple[str, float]]:
        """(element_id, score) best first: one search of the dense or of the sparse vector (give one), filtered."""
        ...

    def delete_docs(self, docs: Sequence[str]) -> None: ...

    def docs(self) -> set[str]: ...

    def count(self) -> int: ...

    def point_elements(self) -> dict[str, str]:
        """Element id -> document of every point (for `mmrag check`)."""
        ...

    def plain_points(self) -> int:
        """Dense vectors not yet in an HNSW index (0 where the backend indexes in the background)."""
        ...

    def optimize(self) -> bool:
        """Build vector indexes now where the backend does not do it in the background; True if it did work."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...


def payload_filter(flt: SearchFilter | None, api: Any, range_type: Any) -> Any:
    """A SearchFilter as a Qdrant payload filter (docs any-of, kinds any-of, inclusive page range).

    api: the module whose Filter/FieldCondition/MatchAny to use (qdrant_edge or qdrant_client.models);
    range_type: its range class (qdrant_edge.RangeFloat, models.Range).
    """
    if flt is None:
        return None
    must: list[Any] = []
    if flt.docs is not None:
        must.append(api.FieldCondition(key="doc", match=api.MatchAny(any=list(flt.docs))))
    if flt.kinds is not None:
        must.append(api.FieldCondition(key="kind", match=api.MatchAny(any=list(flt.kinds))))
    if flt.pages is not None:
        lo, hi = flt.pages
        must.append(api.FieldCondition(key="page", range=range_type(gte=lo, lte=hi)))
    return api.Filter(must=must) if must else None


def one_search(dense: list[float] | None, sparse: SparseTerms | None) -> bool:
    """Whether a query names exactly one vector to search (a sparse vector with no terms names none)."""
    has_sparse = sparse is not None and bool(sparse.indices)
    if dense is not None and has_sparse:
        raise ValueError("one search at a time: give the dense or the sparse vector (fuse sides in mmrag.fusion)")
    return dense is not None or has_sparse


class StoreBacked:
    """A channel over one Qdrant store (`self.store`, Edge or server): what the channel holds is what the store
    holds. Mixed in before `Channel`."""

    store: TextStore

    def point_elements(self) -> dict[str, str]:
        """Element id -> document of every stored point (what `mmrag check` compares with the element store)."""
        return self.store.point_elements()

    def docs(self) -> set[str]:
        return self.store.docs()

    def count(self) -> int:
        return self.store.count()
