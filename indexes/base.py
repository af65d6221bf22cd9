"""One small interface for every retrieval channel, so fusion and eval never care which channel it is."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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


class Channel(ABC):
    """A retrieval channel: embeds elements, stores their vectors, ranks them for a query."""

    name: str

    @abstractmethod
    def add(self, elements: Sequence[Element], read_pixels: PixelReader) -> int:
        """Embed and store the elements this channel handles; returns how many vectors were added."""

    @abstractmethod
    def search(self, query: str, k: int, flt: SearchFilter | None = None) -> list[ChannelHit]:
        """The k best elements for a query, best first, ranks 1-based."""

    @abstractmethod
    def delete_docs(self, docs: Iterable[str]) -> None:
        """Remove every vector of these documents."""

    def docs(self) -> set[str]:
        """Documents that have vectors here (used to reconcile after an interrupted run)."""
        return set()

    def fingerprint(self) -> dict[str, Any]:
        """What the stored vectors depend on (model, dims, settings); a change means re-embedding."""
        return {}

    def flush(self) -> None:  # noqa: B027 - optional hook, a no-op for channels that write through
        """Make what was added durable."""

    def close(self) -> None:
        self.flush()

    def describe(self) -> dict[str, Any]:
        """Status for `mmrag inspect` and the manifest."""
        return {"name": self.name, **self.fingerprint()}
