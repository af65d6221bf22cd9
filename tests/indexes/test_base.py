"""The channel interface and the registry of channel kinds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from mmrag.elements import ChannelHit, Element
from mmrag.indexes.base import (
    CHANNELS,
    DEFAULT_MODE,
    Channel,
    ChannelKind,
    PixelReader,
    SearchFilter,
    add_channel,
    channel_kind,
    list_channels,
    parse_run,
)
from mmrag.settings import Settings


class Listed(Channel):
    """A channel over an in-memory list, enough to exercise the interface's defaults."""

    name = "listed"

    def __init__(self) -> None:
        self.ids: list[str] = []

    def add(self, elements: Sequence[Element], read_pixels: PixelReader) -> int:
        self.ids += [e.id for e in elements]
        return len(elements)

    def search(self, query: str, k: int, flt: SearchFilter | None = None, *, mode: str = DEFAULT_MODE
               ) -> list[ChannelHit]:
        self._check_mode(mode)
        return [ChannelHit(eid, 1.0 / (i + 1), i + 1, self.name) for i, eid in enumerate(self.ids[:k])]

    def delete_docs(self, docs: Iterable[str]) -> None:
        self.ids.clear()


def test_registered_kinds_match_their_classes() -> None:
    assert list_channels() == ["text", "image", "pages"]
    settings = Settings()
    for name in list_channels():
        kind = channel_kind(name)
        for backend in (None, *kind.backends):  # every store of a channel is the same channel to its callers
            cls = kind.load_class(backend)
            assert issubclass(cls, Channel) and cls.name == name
            assert cls.modes == kind.modes, name  # the registry's data says what the class does
        assert hasattr(settings, kind.settings)
    assert CHANNELS["text"].runs() == ["text", "text:dense", "text:lexical"]
    assert CHANNELS["image"].runs() == ["image"]
    assert CHANNELS["pages"].runs() == ["pages"]


def test_parse_run() -> None:
    assert parse_run("text") == ("text", None)
    assert parse_run("text:lexical") == ("text", "lexical")
    assert parse_run("image") == ("image", None)
    with pytest.raises(ValueError, match="text, image, pages"):
        parse_run("audio")
    with pytest.raises(ValueError, match="hybrid, dense, lexical"):
        parse_run("text:sparse")
    with pytest.raises(ValueError, match="default"):
        parse_run("image:dense")


def test_add_channel_and_interface_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mmrag.indexes.base.CHANNELS", dict(CHANNELS))
    add_channel(ChannelKind("listed", f"{__name__}:Listed", "text", (DEFAULT_MODE,)))
    assert list_channels() == ["text", "image", "pages", "listed"]
    channel = channel_kind("listed").load_class()()
    assert channel.optimize() is False and channel.docs() == set() and channel.describe() == {"name": "listed"}
    element = Element("e1", "a.pdf", "sha", 1, "text", (0.0, 0.0, 1.0, 1.0), text="x")
    assert channel.add([element], lambda key: b"") == 1
    assert [h.element_id for h in channel.search("q", 5, mode=DEFAULT_MODE)] == ["e1"]
    # search_all wraps search: one ranking, named after the channel
    rankings = channel.search_all(channel.encode_query("q"), 5)
    assert list(rankings) == ["listed"] and [h.element_id for h in rankings["listed"]] == ["e1"]
    assert channel.kind_candidates is False
    with pytest.raises(ValueError, match="unknown mode"):
        channel.search("q", 5, mode="dense")
    with pytest.raises(TypeError):
        ChannelKind("bad", "mmrag.settings:Settings", "text", (DEFAULT_MODE,)).load_class()
