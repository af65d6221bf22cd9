"""The parts of an open index that the data path works on: folder, store, settings, channels and models.

`MMIndex` (pipelines/index.py) opens an index folder and hands an `IndexParts` to ingest, query and the Ray
driver; they work on the parts alone and never reach back into the facade, so the data path runs one way.
Channels and models open on first use: re-indexing unchanged files, `inspect` and `remove` load no model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmrag.elements import Element
from mmrag.errors import ModelUnavailable
from mmrag.indexes.base import Channel, channel_kind
from mmrag.settings import (
    CaptionerSettings,
    GeneratorSettings,
    ImageChannelSettings,
    PagesChannelSettings,
    Settings,
)
from mmrag.store import ElementStore

log = logging.getLogger(__name__)


PAGES_OFF = ("off: name a late-interaction model in pages.model (a ColQwen2 or ColPali checkpoint, e.g. "
             "vidore/colqwen2-v1.0-hf) to turn it on")


@dataclass(frozen=True)
class IndexParts:
    """What the pipelines receive from an open index; built afresh by `MMIndex.parts` (settings may change)."""

    root: Path
    store: ElementStore
    settings: Settings
    channels: ChannelSet
    models: ModelSet

    def pixel_path(self, element: Element | None) -> str | None:
        """The file of an element's pixels (figures, tables, pages), None for prose."""
        return str(self.store.pixel_path(element.image)) if element is not None and element.image else None


class ChannelSet:
    """The channels of one index folder, opened from its settings on first use.

    A channel whose model cannot load is left out, with the reason in `disabled`; a channel that is off until
    configured (the pages channel without `pages.model`) is left out with how to turn it on in `off`.
    """

    def __init__(
        self, root: Path, settings: Settings, manifest: Mapping[str, Any], *, read_only: bool = False,
        reset_stale: bool = False,
    ) -> None:
        self.root = root
        self.settings = settings
        self.manifest = manifest  # the facade's manifest dict, kept up to date by it
        self.read_only = read_only
        self.reset_stale = reset_stale
        self.disabled: dict[str, str] = {}
        self.off: dict[str, str] = {}
        self._open: dict[str, Channel] | None = None

    @property
    def is_open(self) -> bool:
        return self._open is not None

    def opened(self) -> dict[str, Channel]:
        """The channels opened so far (empty when none is): what a step that needs no model may touch."""
        return self._open or {}

    def open(self) -> dict[str, Channel]:
        """Every enabled channel, by name (loaded on the first call)."""
        if self._open is None:
            self._open = {}
            self._open_text()
            self._open_image()
            self._open_pages()
        return self._open

    def open_without_models(self) -> dict[str, Channel]:
        """The channels, without loading their models where the manifest allows it: deleting needs none.

        The text channel's encoder loads on first encode anyway; the image and pages channels get the encoder
        fingerprint the manifest recorded, and the real encoder only if something is encoded later.
        """
        if self._open is not None:
            return self._open
        if any(stored_section(self.manifest, section) != self.settings.to_dict()[section] for section in _DEFERRABLE):
            return self.open()
        plans: dict[str, tuple[str, dict[str, Any]]] = {}
        for name in _DEFERRABLE:
            stored = self.manifest.get("channels", {}).get(name, {})
            if name == "pages" and not self.settings.pages.model:
                plans[name] = ("off", {})
            elif stored.get("status") == "disabled":
                plans[name] = ("disabled", stored)
            elif stored.get("status") == "enabled" and stored.get("fingerprint"):
                plans[name] = ("deferred", stored)
            else:  # nothing recorded to go by: load the models
                return self.open()
        self._open = {}
        self._open_text()
        for name, (plan, stored) in plans.items():
            if plan == "off":
                self._open_pages()
            elif plan == "disabled":
                self.disabled[name] = stored.get("reason", "disabled")
            elif name == "image":
                cfg = self.settings.image
                recorded = {k: v for k, v in stored["fingerprint"].items() if k not in ("kinds", "store")}
                backend = channel_kind("image").load_class(cfg.store)  # FAISS or Qdrant (image.store)
                self._open["image"] = backend.from_settings(  # type: ignore[attr-defined]
                    self.root, self.settings, _DeferredImageEncoder(cfg, recorded))
            else:
                recorded = dict(stored["fingerprint"])
                self._open["pages"] = channel_kind("pages").load_class().from_settings(  # type: ignore[attr-defined]
                    self.root, self.settings, _DeferredPagesEncoder(self.settings.pages, recorded))
        return self._open

    def off_by_settings(self) -> dict[str, str]:
        """The channels the settings leave off (nothing is opened to say it), with how to turn them on."""
        return {} if self.settings.pages.model else {"pages": PAGES_OFF}

    def close(self) -> None:
        for name, channel in self.opened().items():
            if self.read_only and name != "text":  # closing flushes: a reader writes nothing
                continue
            channel.close()

    def _open_text(self) -> None:
        from mmrag.indexes.qdrant_text import QdrantTextChannel

        assert self._open is not None
        self._open["text"] = QdrantTextChannel.open(self.root, self.settings.text, read_only=self.read_only)

    def _open_image(self) -> None:
        assert self._open is not None
        cfg = self.settings.image
        if not cfg.enabled:
            self.disabled["image"] = "disabled in settings (image.enabled = false)"
            return
        try:
            from mmrag.models.image_encoder import OpenClipEncoder

            encoder = OpenClipEncoder.load(cfg.model, cfg.pretrained, device=cfg.device, batch_size=cfg.batch_size)
        except ModelUnavailable as exc:
            self.disabled["image"] = str(exc)
            log.info("image channel disabled: %s", exc)  # `mmrag index` and `inspect` say it to the user
            return
        backend = channel_kind("image").load_class(cfg.store)  # FAISS or Qdrant (image.store)
        self._open["image"] = backend.from_settings(  # type: ignore[attr-defined]
            self.root, self.settings, encoder, reset_stale=self.reset_stale, read_only=self.read_only)


    def _open_pages(self) -> None:
        assert self._open is not None
        cfg = self.settings.pages
        off = self.off_by_settings()
        if "pages" in off:
            self.off["pages"] = off["pages"]
            return
        try:
            from mmrag.models.late_interaction import load_pages_encoder

            encoder = load_pages_encoder(cfg.model, device=cfg.device, dtype=cfg.dtype, batch_size=cfg.batch_size,
                                         max_pixels=cfg.max_pixels)
        except ModelUnavailable as exc:
            self.disabled["pages"] = str(exc)
            log.info("pages channel disabled: %s", exc)  # `mmrag index` and `inspect` say it to the user
            return
        self._open["pages"] = channel_kind("pages").load_class().from_settings(  # type: ignore[attr-defined]
            self.root, self.settings, encoder, reset_stale=self.reset_stale, read_only=self.read_only)


# Channels whose models `open_without_models` can stand in for by the fingerprint the manifest recorded.
_DEFERRABLE = ("image", "pages")


def stored_section(manifest: Mapping[str, Any], section: str) -> dict[str, Any] | None:
    """A settings section as the manifest stored it; its defaults for an index made before the section existed
    (no manifest settings at all: None)."""
    stored = manifest.get("settings")
    if stored is None:
        return None
    return stored.get(section, Settings().to_dict()[section])


class ModelSet:
    """The models beside the channels (OCR, figure captioner, reranker, generator), each loaded on first use.

    Each is kept while the settings it was loaded with stay the same, and loaded again when they change.
    """

    def __init__(self, store: ElementStore) -> None:
        self.store = store  # the captioner caches its descriptions there
        self._loaded: dict[str, tuple[Any, Any]] = {}  # role -> (settings it was loaded with, model)

    def ocr(self, engine: str) -> Any:
        """The OCR engine (None when `engine` is "none" or none is installed)."""
        from mmrag.ingest.ocr import load_ocr

        return self._get("ocr", engine, lambda: load_ocr(engine))

    def reranker(self, name: str | None) -> Any:
        """The cross-encoder called `name`; None when no reranker is configured."""
        if not name:
            return None
        from mmrag.models.reranker import CrossEncoderReranker

        return self._get("reranker", name, lambda: CrossEncoderReranker.load(name))

    def captioner(self, cfg: CaptionerSettings) -> Any:
        """The figure captioner; None when no captioning model is configured."""
        if not cfg.model:
            return None
        from mmrag.models.captioner import Captioner

        return self._get("captioner", cfg, lambda: Captioner.from_settings(
            cfg, cache_get=self.store.cache_get, cache_put=self.store.cache_put))

    def generator(self, cfg: GeneratorSettings) -> Any:
        from mmrag.generators import create_generator

        return self._get("generator", cfg, lambda: create_generator(cfg))

    def _get(self, role: str, key: Any, load: Callable[[], Any]) -> Any:
        held = self._loaded.get(role)
        if held is None or held[0] != key:
            held = (_copy(key), load())
            self._loaded[role] = held
        return held[1]


def _copy(key: Any) -> Any:
    """A snapshot of a settings section, so that changing the section in place is seen as a change."""
    from dataclasses import is_dataclass, replace

    return replace(key) if is_dataclass(key) else key


class _DeferredEncoder:
    """An encoder known by the fingerprint the manifest recorded; the model loads (`_load`) on first encode."""

    def __init__(self, recorded: dict[str, Any], name: str) -> None:
        self.recorded = recorded
        self.name = name
        self.dim = int(recorded["dim"])
        self._encoder: Any = None

    def fingerprint(self) -> dict[str, Any]:
        return dict(self.recorded) if self._encoder is None else self._encoder.fingerprint()

    def _load(self) -> Any:
        raise NotImplementedError

    def _real(self) -> Any:
        if self._encoder is None:
            self._encoder = self._load()
        return self._encoder


class _DeferredImageEncoder(_DeferredEncoder):
    """The image channel's open_clip encoder, loaded on first encode."""

    def __init__(self, cfg: ImageChannelSettings, recorded: dict[str, Any]) -> None:
        super().__init__(recorded, str(recorded.get("model", cfg.model)))
        self.cfg = cfg

    def _load(self) -> Any:
        from mmrag.models.image_encoder import OpenClipEncoder

        cfg = self.cfg
        return OpenClipEncoder.load(cfg.model, cfg.pretrained, device=cfg.device, batch_size=cfg.batch_size)

    def encode_images(self, images: Sequence[Any]) -> Any:
        return self._real().encode_images(images)

    def encode_text(self, texts: Sequence[str]) -> Any:
        return self._real().encode_text(texts)


class _DeferredPagesEncoder(_DeferredEncoder):
    """The pages channel's late-interaction encoder, loaded on first encode."""

    def __init__(self, cfg: PagesChannelSettings, recorded: dict[str, Any]) -> None:
        super().__init__({k: v for k, v in recorded.items() if k in ("model", "dim", "max_pixels")}, str(cfg.model))
        self.cfg = cfg

    def _load(self) -> Any:
        from mmrag.models.late_interaction import load_pages_encoder

        cfg = self.cfg
        return load_pages_encoder(str(cfg.model), device=cfg.device, dtype=cfg.dtype, batch_size=cfg.batch_size,
                                  max_pixels=cfg.max_pixels)

    def encode_pages(self, images: Sequence[Any]) -> Any:
        return self._real().encode_pages(images)

    def encode_queries(self, texts: Sequence[str]) -> Any:
        return self._real().encode_queries(texts)
