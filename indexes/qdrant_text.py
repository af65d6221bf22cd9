"""The text channel: dense sentence embeddings + BM25 in Qdrant, one query per side, fused in our code.

Every element kind with searchable text is indexed: text chunks, figures (caption + OCR text), tables
(caption + Markdown) and pages (the page's text, kind "page", so page-level questions and evals can rank whole
pages; a `kinds` filter leaves them out). Elements without text are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from mmrag import search_text
from mmrag.elements import ChannelHit, Element
from mmrag.fusion import rrf_ranking
from mmrag.indexes.base import Channel, PixelReader, SearchFilter
from mmrag.indexes.qdrant_store import SparseTerms, StoreBacked, TextPoint, TextStore
from mmrag.models.text_encoder import TextEncoder, load_text_encoder
from mmrag.settings import TextChannelSettings

MODES = ("hybrid", "dense", "lexical")
SIDES = ("dense", "lexical")
RRF_K = 60  # `search(mode="hybrid")`: equal-weight RRF of the sides (the query path fuses with its own settings)


@dataclass
class TextQuery:
    """A query's text with its dense vector and BM25 terms (None for a side that is off)."""

    text: str
    dense: list[float] | None
    sparse: SparseTerms | None


class QdrantTextChannel(StoreBacked, Channel):
    """Embeds each element's `searchable_text()` twice (dense vector, BM25 terms) and ranks with both.

    Each side is one Qdrant query under the same payload filter (`search_all`, one query encoding for both);
    the sides are fused late in our code, so their weights are ours to set. `mode="dense"` / `"lexical"` run
    one side alone.
    """

    name = "text"
    modes = MODES
    kind_candidates = True  # a second search with the same encoded query costs two Qdrant queries, no encoding

    def __init__(
        self,
        store: TextStore,
        encoder: TextEncoder,
        settings: TextChannelSettings | None = None,
        prefetch_k: int = 100,
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.settings = settings or TextChannelSettings()
        self.prefetch_k = prefetch_k  # depth of each side before fusion
        self.bm25 = qe.Bm25() if self.settings.lexical else None

    @classmethod
    def open(
        cls,
        index_dir: str | Path,
        settings: TextChannelSettings | None = None,
        encoder: TextEncoder | None = None,
        *,
        client: Any = None,
        location: str | None = None,
        read_only: bool = False,
    ) -> QdrantTextChannel:
        """The text channel of an index.

        Backend: `client` (a ready QdrantClient) or `location` (qdrant-client local mode, ":memory:" or a
        folder) or `settings.qdrant_url` → a server collection named `settings.collection` (when empty, one
        derived from the index folder is chosen and written into `settings`, so the manifest keeps it);
        otherwise a Qdrant Edge shard in `<index_dir>/qdrant` (read_only: a private copy of it, so that a writer
        in another process may hold the shard). The encoder defaults to `settings.model`.
        """
        settings = settings or TextChannelSettings()
        if encoder is None:
            encoder = load_text_encoder(settings.model, device=settings.device, batch_size=settings.batch_size)
        store: TextStore
        if client is not None or location is not None or settings.qdrant_url:
            from mmrag.indexes.qdrant_server import ServerTextStore, collection_name

            if not settings.collection:
                settings.collection = collection_name(index_dir)
            if client is not None:
                store = ServerTextStore(client, settings.collection, encoder.dim, where="client", settings=settings)
            elif location is not None:
                store = ServerTextStore.local(location, settings.collection, encoder.dim, settings)
            else:
                store = ServerTextStore.connect(str(settings.qdrant_url), settings.collection, encoder.dim, settings)
        else:
            from mmrag.indexes.qdrant_edge import EdgeTextStore

            store = EdgeTextStore(Path(index_dir) / "qdrant", encoder.dim, read_only=read_only,
                                  hnsw_min_points=settings.optimize_min_points)
        return cls(store, encoder, settings)

    # writing --------------------------------------------------------------------------------
    def add(
        self,
        elements: Sequence[Element],
        read_pixels: PixelReader | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Embed and upsert every element with text (same id → replaced); returns how many were stored.

        progress: called with the running count after each stored batch.
        """
        done = 0
        for points in embed_points(elements, self.encoder, self.bm25, self.settings.batch_size,
                                   self.settings.page_tokens, self.settings.chunk_header,
                                   self.settings.element_tokens):
            self.store.upsert(points)
            done += len(points)
            if progress is not None:
                progress(done)
        return done

    def add_points(self, points: Sequence[TextPoint]) -> int:
        """Store points embedded elsewhere (by `embed_points`, e.g. in a Ray task); returns how many."""
        self.store.upsert(points)
        return len(points)

    def delete_docs(self, docs: Iterable[str]) -> None:
        self.store.delete_docs(sorted(set(docs)))

    # reading --------------------------------------------------------------------------------
    def encode_query(
        self, query: str, mode: str | None = None, *, lexical_terms: str = "", dense_terms: str = "",
    ) -> TextQuery:
        """The query's vectors, computed once and reusable across searches: both sides (mode None or "hybrid"),
        or the one side `mode` names ("dense", "lexical").

        lexical_terms: words added to the BM25 side (a glossary's terms, `mmrag.query_rewrite`); a word of the
        query and of the extra counts once. dense_terms: words the dense side embeds after the query.
        """
        if mode is not None:
            self._check_mode(mode)
        sides = SIDES if mode in (None, "hybrid") else (mode,)
        embedded = f"{query} {dense_terms}".strip() if dense_terms.strip() else query
        dense = self.encoder.encode_query(embedded).tolist() if "dense" in sides and query.strip() else None
        sparse = self._query_terms(query) if "lexical" in sides and query.strip() else None
        if sparse is not None and lexical_terms.strip():
            extra = self._query_terms(lexical_terms)
            if extra is not None:
                merged = dict(zip(sparse.indices, sparse.values))
                for i, v in zip(extra.indices, extra.values):
                    merged[i] = max(merged.get(i, 0.0), v)
                sparse = SparseTerms(list(merged), list(merged.values()))
        return TextQuery(query, dense, sparse)

    def search_all(self, q: TextQuery, k: int, flt: SearchFilter | None = None) -> dict[str, list[ChannelHit]]:
        """Each side's own ranking for an encoded query (`encode_query`): {"text:dense": [...], "text:lexical":
        [...]} (sides with no vector left out).

        Late fusion of the sides happens in our code (`mmrag.fusion`), with weights the user can tune.
        """
        out: dict[str, list[ChannelHit]] = {}
        if k <= 0:
            return out
        for side, dense, sparse in (("dense", q.dense, None), ("lexical", None, q.sparse)):
            if dense is None and (sparse is None or not sparse.indices):
                continue
            # Equal scores come back in any order; break ties by id so repeated searches agree.
            ranked = sorted(self.store.query(dense, sparse, k, flt), key=lambda r: (-r[1], r[0]))
            name = f"{self.name}:{side}"
            out[name] = [ChannelHit(eid, score, rank, name) for rank, (eid, score) in enumerate(ranked, start=1)]
        return out

    def search(self, query: str, k: int, flt: SearchFilter | None = None, *, mode: str = "hybrid") -> list[ChannelHit]:
        """The k best elements for a query, best first; mode "dense" / "lexical" runs one side alone.

        "hybrid" fuses both sides with equal-weight RRF over `prefetch_k` candidates each (the query pipeline
        fuses the sides itself, with the query settings' weights). Hits of the single-side modes carry
        channel "text:dense" / "text:lexical" (diagnostics, evals).
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if mode == "lexical" and self.bm25 is None:
            raise ValueError("the lexical side is off (text.lexical = false)")
        if not query.strip() or k <= 0:
            return []
        depth = k if mode != "hybrid" else max(k, self.prefetch_k)
        sides = self.search_all(self.encode_query(query, mode), depth, flt)
        if mode != "hybrid":
            return sides.get(f"{self.name}:{mode}", [])
        return rrf_ranking(sides, self.name, RRF_K)[:k]

    def search_dense(self, query: str, k: int, flt: SearchFilter | None = None) -> list[ChannelHit]:
        return self.search(query, k, flt, mode="dense")

    def search_lexical(self, query: str, k: int, flt: SearchFilter | None = None) -> list[ChannelHit]:
        return self.search(query, k, flt, mode="lexical")

    # status ---------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.encoder.name, "dim": int(self.encoder.dim), "lexical": "bm25" if self.bm25 else None,
                "page_tokens": self.settings.page_tokens, "chunk_header": self.settings.chunk_header,
                "text_form": search_text.VERSION,
                **({"element_tokens": self.settings.element_tokens} if self.settings.element_tokens else {})}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.fingerprint(), **self.store.describe()}

    def optimize(self) -> bool:
        """Build HNSW indexes in an Edge shard (a long step at large sizes: the scale benchmark gives build times); a
        no-op on a server."""
        return self.store.optimize()

    def optimize_due(self) -> bool:
        """Whether enough points sit in plain segments for `optimize()` to pay (text.optimize_threshold)."""
        plain = self.store.plain_points()
        if plain < max(1, self.settings.optimize_min_points):
            return False
        return plain > self.settings.optimize_threshold * max(1, self.store.count())

    def flush(self) -> None:
        self.store.flush()

    def close(self) -> None:
        self.store.close()

    def _query_terms(self, text: str) -> SparseTerms | None:
        if self.bm25 is None:
            return None
        v = self.bm25.embed_query(text)
        return SparseTerms(list(v.indices), list(v.values))


def embed_points(
    elements: Sequence[Element], encoder: TextEncoder, bm25: Any, batch_size: int, page_tokens: int = 0,
    header: str | None = None, element_tokens: int = 0,
) -> Iterator[list[TextPoint]]:
    """The text channel's points for every element with text (dense vector, BM25 terms, payload), in batches.

    A plain function of the encoder and a `qdrant_edge.Bm25` (None: lexical off), so a Ray task on another
    machine builds exactly the points `QdrantTextChannel.add` would. Duplicate ids: the last element wins.
    page_tokens: the dense vector of a page element reads only the page's first N tokens (0: all the model
    takes); BM25 always reads the whole page. element_tokens: the same for every other element. header: the
    contextual header before each element's text (`Element.searchable_text`; None: text.chunk_header's default).
    Equal texts are encoded once.
    """
    header = TextChannelSettings().chunk_header if header is None else header
    unique: dict[int, tuple[Element, str]] = {}
    for e in elements:
        text = e.searchable_text(header).strip()
        if text:
            unique[e.point_id] = (e, text)
    todo = list(unique.values())
    # Encoding batches of several model batches lets sentence-transformers sort by length across them.
    step = max(1, batch_size) * 8
    for start in range(0, len(todo), step):
        chunk = todo[start : start + step]
        vectors = np.zeros((len(chunk), encoder.dim), dtype=np.float32)
        rows_by_limit: dict[int | None, list[int]] = {}  # pages read their first page_tokens, the rest theirs
        for i, (e, _) in enumerate(chunk):
            limit = page_tokens if e.kind == "page" else element_tokens
            rows_by_limit.setdefault(limit or None, []).append(i)
        for max_tokens, rows in rows_by_limit.items():
            texts = list(dict.fromkeys(chunk[i][1] for i in rows))  # a repeated text (a running heading): once
            encoded = encoder.encode_documents(texts, batch_size=batch_size, max_tokens=max_tokens)
            position = {text: k for k, text in enumerate(texts)}
            vectors[rows] = encoded[[position[chunk[i][1]] for i in rows]]
        yield [
            TextPoint(
                id=e.point_id,
                dense=vector.tolist(),
                sparse=_terms(bm25.embed_document(text)) if bm25 is not None else None,
                payload={"element_id": e.id, "doc": e.doc, "page": int(e.page), "kind": e.kind},
            )
            for (e, text), vector in zip(chunk, vectors)
        ]


def _terms(v: Any) -> SparseTerms:
    return SparseTerms(list(v.indices), list(v.values))
