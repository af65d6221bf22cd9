"""One small interface for every retrieval channel, so fusion and eval never care which channel it is, and
the registry of channel kinds (config as data, like open_clip's `list_models` / `add_model_config`)."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmrag.elements import ChannelHit, Element


@dataclass
class SearchFilter:
    """Restrictions applied inside a channel's index, before ranking (not a post-filter)."""

    docs: list[str] | None = None
    kinds: list[str] | None = None
    pages: tuple[int, int] | None = None  # inclusive 1-based page range

    def matches(self, doc: str, kind: str, page: int) -> bool:
        if self.docs is not None and doc not in self.docs:
            return False
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.pages is not None and not (self.pages[0] <= page <= self.pages[1]):
            return False
        return True


# Gives the pixels (PNG/WebP bytes) of an element's image key.
PixelReader = Callable[[str], bytes]


DEFAULT_MODE = "default"


@dataclass(frozen=True)
class PlainQuery:
    """A query as a channel without a query encoding of its own keeps it: the text, and the one mode asked for."""

    text: str
    mode: str | None = None


class Channel(ABC):
    """A retrieval channel: embeds elements, stores their vectors, ranks them for a query.

    `modes` names the rankings `search` can run; the first is what it runs when no mode is given. Hits of
    another mode carry the channel name `"<name>:<mode>"` (diagnostics, evals). The query pipeline encodes a
    query once per channel (`encode_query`) and takes every ranking the channel gives for it (`search_all`).
    """

    name: str
    modes: tuple[str, ...] = (DEFAULT_MODE,)
    # Whether the query pipeline may search this channel again, under a kinds filter and with the same encoded
    # query, for figure and table candidates that keep the kind quota fillable.
    kind_candidates: bool = False

    @abstractmethod
    def add(self, elements: Sequence[Element], read_pixels: PixelReader) -> int:
        """Embed and store the elements this channel handles; returns how many vectors were added."""

    @abstractmethod
    def search(self, query: str, k: int, flt: SearchFilter | None = None, *, mode: str = DEFAULT_MODE
               ) -> list[ChannelHit]:
        """The k best elements for a query, best first, ranks 1-based; mode: one of `modes`."""

    def encode_query(
        self, query: str, mode: str | None = None, *, lexical_terms: str = "", dense_terms: str = "",
    ) -> Any:
        """The query as `search_all` takes it, computed once and reusable across searches.

        mode: one of `modes` to run that ranking alone; None: every ranking the channel gives.
        lexical_terms: words for a lexical ranking only (a glossary's, `mmrag.query_rewrite`); dense_terms: words
        for a text embedding's query only. A channel without such a ranking ignores them.
        """
        if mode is not None:
            self._check_mode(mode)
        return PlainQuery(query, mode)

    def search_all(self, query: Any, k: int, flt: SearchFilter | None = None) -> dict[str, list[ChannelHit]]:
        """Each ranking of an encoded query (from `encode_query`), by ranking name: {"image": [...]} or the
        text channel's {"text:dense": [...], "text:lexical": [...]}."""
        mode = query.mode or self.modes[0]
        name = self.name if mode == self.modes[0] else f"{self.name}:{mode}"
        return {name: self.search(query.text, k, flt, mode=mode)}

    @abstractmethod
    def delete_docs(self, docs: Iterable[str]) -> None:
        """Remove every vector of these documents."""

    def docs(self) -> set[str]:
        """Documents that have vectors here (used to reconcile after an interrupted run)."""
        return set()

    def fingerprint(self) -> dict[str, Any]:
        """What the stored vectors depend on (model, dims, settings); a change means re-embedding."""
        return {}

    def optimize(self) -> bool:
        """Build search structures now where the backend does not do it by itself; True if it did work."""
        return False

    def flush(self) -> None:  # noqa: B027 - optional hook, a no-op for channels that write through
        """Make what was added durable."""

    def close(self) -> None:
        self.flush()

    def describe(self) -> dict[str, Any]:
        """Status for `mmrag inspect` and the manifest."""
        return {"name": self.name, **self.fingerprint()}

    def _check_mode(self, mode: str) -> None:
        if mode not in self.modes:
            raise ValueError(f"unknown mode {mode!r} for the {self.name} channel: use one of {', '.join(self.modes)}")


# ---------------------------------------------------------------------------------------------
# the registry of channel kinds
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelKind:
    """A kind of channel as data; its class is imported only when `load_class` is called."""

    name: str  # the channel's name in hits, settings and the manifest
    target: str  # "module:Class" implementing Channel
    settings: str  # the section of Settings it reads ("text" → Settings.text)
    modes: tuple[str, ...]  # as the class declares them; the first is the default
    summary: str = ""
    # Other backends of the same channel, chosen by its settings section's `store` ("qdrant" → "module:Class");
    # `target` is the default one. Every backend has the channel's name and modes.
    backends: dict[str, str] = field(default_factory=dict, hash=False)

    def load_class(self, backend: str | None = None) -> type[Channel]:
        """The class of the backend named in `backends`, else of `target` (settings validate the names)."""
        target = self.backends.get(backend, self.target) if backend else self.target
        module, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        if not (isinstance(cls, type) and issubclass(cls, Channel)):
            raise TypeError(f"{target} is not a Channel")
        return cls

    def runs(self) -> list[str]:
        """Every ranking this kind offers, as eval and `search --channel` name them: "text", "text:dense", …"""
        return [self.name, *(f"{self.name}:{m}" for m in self.modes[1:])]


CHANNELS: dict[str, ChannelKind] = {
    "text": ChannelKind(
        "text", "mmrag.indexes.qdrant_text:QdrantTextChannel", "text", ("hybrid", "dense", "lexical"),
        "sentence embeddings + BM25 of every element's text, in Qdrant",
    ),
    "image": ChannelKind(
        "image", "mmrag.indexes.faiss_image:FaissImageChannel", "image", (DEFAULT_MODE,),
        "open_clip embeddings of figure, table and page pixels, in FAISS (or Qdrant: image.store)",
        backends={"qdrant": "mmrag.indexes.qdrant_image:QdrantImageChannel"},
    ),
    "pages": ChannelKind(
        "pages", "mmrag.indexes.qdrant_pages:QdrantPagesChannel", "pages", (DEFAULT_MODE,),
        "late interaction (ColPali / ColQwen2): page renders as multivectors scored by MaxSim, in Qdrant; "
        "off until pages.model names a model",
    ),
}


def list_channels() -> list[str]:
    """Names of the registered channel kinds, in fusion order."""
    return list(CHANNELS)


def channel_kind(name: str) -> ChannelKind:
    """The registered kind called `name` (ValueError naming the known ones otherwise)."""
    try:
        return CHANNELS[name]
    except KeyError:
        raise ValueError(f"unknown channel {name!r}: use one of {', '.join(CHANNELS)}") from None


def add_channel(kind: ChannelKind) -> None:
    """Register a channel kind (or replace one of the same name)."""
    CHANNELS[kind.name] = kind


def parse_run(run: str) -> tuple[str, str | None]:
    """Split "text:dense" into ("text", "dense") and "image" into ("image", None), checking both parts."""
    name, _, mode = run.partition(":")
    kind = channel_kind(name)
    if mode and mode not in kind.modes:
        raise ValueError(f"unknown mode {mode!r} for the {name} channel: use one of {', '.join(kind.modes)}")
    return name, mode or None
