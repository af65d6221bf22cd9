"""MMIndex: an index folder with its element store, channels, manifest and writer lock."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mmrag.crash import kill_point
from mmrag.elements import Answer, Element, Hit
from mmrag.errors import IndexNotFound, MMRagError, ModelUnavailable, SettingsError, StaleVectors
from mmrag.indexes.base import Channel, SearchFilter, channel_kind, list_channels
from mmrag.pipelines.ingest import (
    IndexReport,
    Progress,
    discover_pdfs,
    index_documents,
    needs_work,
    reembed,
    warm_workers,
)
from mmrag.pipelines.lock import WriterLock
from mmrag.pipelines.manifest import read_manifest, stale_channels, write_manifest
from mmrag.settings import ImageChannelSettings, Settings
from mmrag.store import ElementStore

log = logging.getLogger(__name__)


def open_index(
    path: str | Path, settings: Settings | None = None, create: bool = True, reset_stale: bool = False,
    read_only: bool = False,
) -> MMIndex:
    """Open (or create) the index at `path`.

    Settings come from the argument, else from the index's manifest, else the defaults; an existing
    index keeps its stored settings unless new ones are given (then a model change is detected).
    reset_stale: let channels drop vectors made with other models (for `reembed`) instead of refusing to open.
    read_only: search, ask and inspect only, beside a writer (another process running `mmrag index`); sees the
    index as it was when a channel was first used (documents finished by then).
    """
    return MMIndex(path, settings=settings, create=create and not read_only, reset_stale=reset_stale,
                   read_only=read_only)


class MMIndex:
    """An index folder: `elements.db`, `pixels/`, `qdrant/`, `faiss/`, `manifest.json`."""

    def __init__(
        self, path: str | Path, settings: Settings | None = None, create: bool = True, reset_stale: bool = False,
        read_only: bool = False,
    ) -> None:
        self.root = Path(path)
        self.read_only = read_only
        manifest = read_manifest(self.root) if self.root.exists() else None
        if manifest is None and not create:
            raise IndexNotFound(f"{self.root}: no mmrag index here (create one with `mmrag index PDFS --index DIR`)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest: dict[str, Any] = manifest or {"created": time.time(), "channels": {}}
        if settings is None:
            try:
                settings = Settings.from_dict(self.manifest["settings"]) if "settings" in self.manifest else Settings()
            except SettingsError as exc:
                raise SettingsError(f"{self.root / 'manifest.json'}: {exc}") from None
        self.settings = settings
        self.store = ElementStore(self.root)
        self.disabled: dict[str, str] = {}
        self.reset_stale = reset_stale
        self._channels: dict[str, Channel] | None = None
        self._ocr: Any = None
        self._ocr_loaded = False
        self._captioner: Any = None
        self._generator: Any = None
        self._reranker: Any = None

    # channels -------------------------------------------------------------------------------
    @property
    def channels_open(self) -> bool:
        return self._channels is not None

    @property
    def channels(self) -> dict[str, Channel]:
        """Enabled channels, loaded on first use; a channel whose model cannot load is disabled with a reason."""
        if self._channels is None:
            self._channels = {}
            self._load_text_channel()
            self._load_image_channel()
        return self._channels

    def _load_text_channel(self) -> None:
        from mmrag.indexes.qdrant_text import QdrantTextChannel

        assert self._channels is not None
        cfg = self.settings.text
        self._channels["text"] = QdrantTextChannel.open(self.root, cfg, read_only=self.read_only)

    def _load_image_channel(self) -> None:
        assert self._channels is not None
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
        self._channels["image"] = backend.from_settings(  # type: ignore[attr-defined]
            self.root, self.settings, encoder, reset_stale=self.reset_stale, read_only=self.read_only)

    @property
    def ocr(self) -> Any:
        if not self._ocr_loaded:
            from mmrag.ingest.ocr import load_ocr

            self._ocr = load_ocr(self.settings.ingest.ocr)
            self._ocr_loaded = True
        return self._ocr

    def describe_figures(self, elements: Sequence[Element]) -> None:
        """Give figures a generated description when a captioning model is configured (cached by pixels)."""
        if not self.settings.captioner.model:
            return
        from PIL import Image

        from mmrag.models.captioner import Captioner

        if self._captioner is None:
            self._captioner = Captioner.from_settings(
                self.settings.captioner, cache_get=self.store.cache_get, cache_put=self.store.cache_put
            )
        figures = [e for e in elements if e.kind == "figure" and e.image]
        if not figures:
            return
        images = [Image.open(io.BytesIO(self.store.read_pixels(e.image))).convert("RGB") for e in figures]
        texts = self._captioner.caption(images)
        for e, t in zip(figures, texts):
            if t:
                e.meta["generated_caption"] = t
                e.text = (e.text + "\n" if e.text else "") + f"[generated description] {t}"

    # writing --------------------------------------------------------------------------------
    def add(
        self, paths: Iterable[str | Path], progress: Progress | None = None, reembed_stale: bool = False,
        prune: bool = False, ray: str | None = None,
    ) -> IndexReport:
        """Index PDFs (files or folders); unchanged files are skipped, changed ones replaced.

        ray: a Ray cluster address ("auto", "ray://HEAD:10001", "local") to parse and encode on; see
        pipelines/distributed.py for what must be shared.
        """
        self._writable()
        files = discover_pdfs(paths)
        with WriterLock(self.root):
            # Nothing to parse, purge or re-embed under the stored settings: no channel (no model) is opened.
            if reembed_stale or prune or self._settings_changed() or needs_work(self.store, files):
                if files:
                    warm_workers(self.settings.ingest, len(files))  # they boot while the models load
                self._check_fingerprints(reembed_stale, progress)
            if ray:
                from mmrag.pipelines.distributed import index_documents_on_ray

                report = index_documents_on_ray(self, files, ray, progress=progress, prune=prune)
            else:
                report = index_documents(self, files, progress=progress, prune=prune)
            if report.resumed or report.removed:
                self.store.garbage_collect_pixels()  # crops of purged documents
            self._optimize(due_only=True, progress=progress)  # Qdrant Edge has no background optimiser
            self._save_manifest()
        return report

    def _settings_changed(self) -> bool:
        stored = self.manifest.get("settings")
        now = self.settings.to_dict()
        return stored is None or any(stored.get(k) != now[k] for k in ("text", "image"))

    def reembed(self, progress: Progress | None = None) -> int:
        """Rebuild every channel's vectors from the stored elements; returns how many documents."""
        self._writable()
        with WriterLock(self.root):
            n = reembed(self, progress)
            self._save_manifest()
        return n

    def optimize(self, progress: Progress | None = None) -> list[str]:
        """Let channels build their search structures now; returns the channels that did some work."""
        self._writable()
        with WriterLock(self.root):
            done = self._optimize(due_only=False, progress=progress)
            self._save_manifest()
        return done

    def _optimize(self, due_only: bool, progress: Progress | None = None) -> list[str]:
        """Optimise every channel that can (only those whose `optimize_due()` says so, with due_only)."""
        done: list[str] = []
        # A run that opened no channel added nothing: the plain share is what the last run left.
        channels = self._channels if due_only else self.channels
        for name, channel in (channels or {}).items():
            due = getattr(channel, "optimize_due", None)
            if due_only and (due is None or not due()):
                continue
            if progress:
                progress(f"optimize:{name}", 0, 1)
            if channel.optimize():
                done.append(name)
            if progress:
                progress(f"optimize:{name}", 1, 1)
        return done

    def remove(self, doc: str) -> bool:
        """Remove a document everywhere: channel vectors, store rows, unreferenced pixel files.

        Takes the writer lock (IndexLocked when another process writes). The document is marked `indexing`
        first, so a kill half way leaves it for the next run to purge, never half present.
        """
        self._writable()
        with WriterLock(self.root):
            if self.store.document(doc) is None:
                return False
            self.store.mark_indexing(doc)
            self._open_channels_for_delete()
            for channel in self.channels.values():
                channel.delete_docs([doc])
                channel.flush()
                kill_point("remove")
            self.store.delete_document(doc)
            self.store.garbage_collect_pixels()
        return True

    def update_settings(self, **sections: Any) -> None:
        """Replace whole settings sections (e.g. `query=QuerySettings(...)`) and store them in the manifest.

        Only sections that do not change stored vectors belong here (query, generator); model changes go
        through `mmrag index --reembed`.
        """
        self._writable()
        with WriterLock(self.root):
            self.settings = replace(self.settings, **sections)
            self._save_manifest()

    def _writable(self) -> None:
        if self.read_only:
            raise MMRagError(f"{self.root}: opened read-only; open it without read_only to change it")

    def _open_channels_for_delete(self) -> None:
        """Open the channels without their models, where the manifest allows it: deleting needs none.

        The text channel's encoder loads on first encode anyway; the image channel gets the encoder
        fingerprint the manifest recorded, and the real encoder only if something is encoded later.
        """
        if self._channels is not None:
            return
        if self.manifest.get("settings", {}).get("image") != self.settings.to_dict()["image"]:
            return
        stored = self.manifest.get("channels", {}).get("image", {})
        if stored.get("status") == "disabled":
            self._channels = {}
            self._load_text_channel()
            self.disabled["image"] = stored.get("reason", "disabled")
        elif stored.get("status") == "enabled" and stored.get("fingerprint"):
            cfg = self.settings.image
            recorded = {k: v for k, v in stored["fingerprint"].items() if k not in ("kinds", "store")}
            self._channels = {}
            self._load_text_channel()
            backend = channel_kind("image").load_class(cfg.store)
            self._channels["image"] = backend.from_settings(  # type: ignore[attr-defined]
                self.root, self.settings, _DeferredImageEncoder(cfg, recorded))

    def _check_fingerprints(self, reembed_stale: bool, progress: Progress | None) -> None:
        """Refuse to mix vectors of different models: re-embed (when asked) the channels that need it."""
        current = {name: ch.fingerprint() for name, ch in self.channels.items()}
        todo = stale_channels(self.manifest, current)
        if self.store.documents(status="ready"):
            stored = self.manifest.get("channels", {})
            todo += [n for n in current if n not in todo and not stored.get(n, {}).get("fingerprint")]
        if todo and not reembed_stale:
            raise StaleVectors(
                f"{self.root}: the {', '.join(todo)} channel's vectors were made with other models or settings, "
                "or are missing; run `mmrag index --reembed --index DIR` to rebuild them"
            )
        if todo:
            reembed(self, progress, channels=todo)
        # Record the fingerprints before adding anything, so a killed run leaves a truthful manifest.
        self._save_manifest()

    def _save_manifest(self) -> None:
        if self._channels is None:  # no channel was opened: their stored status still holds
            self.manifest["settings"] = self.settings.to_dict()
            write_manifest(self.root, self.manifest)
            return
        channels = {}
        for name, ch in self.channels.items():
            channels[name] = {"status": "enabled", "fingerprint": ch.fingerprint(), **_safe_describe(ch)}
        for name, reason in self.disabled.items():
            channels[name] = {"status": "disabled", "reason": reason}
        self.manifest.update({"settings": self.settings.to_dict(), "channels": channels})
        write_manifest(self.root, self.manifest)

    # reading --------------------------------------------------------------------------------
    def search(
        self, query: str, channel: str = "all", docs: list[str] | None = None, kinds: list[str] | None = None,
        pages: tuple[int, int] | None = None, k: int | None = None,
    ) -> list[Hit]:
        """Ranked hits for a query: one channel alone, or all channels fused."""
        from mmrag.pipelines.query import search

        flt = SearchFilter(docs=docs, kinds=kinds, pages=pages)
        return search(self, query, channel=channel, flt=flt, k=k or self.settings.query.k)

    def ask(
        self, question: str, docs: list[str] | None = None, kinds: list[str] | None = None,
        pages: tuple[int, int] | None = None, k: int | None = None,
    ) -> Answer:
        """Retrieve, then answer with the configured generator (extractive when none)."""
        hits = self.search(question, docs=docs, kinds=kinds, pages=pages, k=k)
        return self.generator.generate(question, hits)

    @property
    def generator(self) -> Any:
        if self._generator is None:
            from mmrag.generators import create_generator

            self._generator = create_generator(self.settings.generator)
        return self._generator

    @property
    def reranker(self) -> Any:
        if self._reranker is None and self.settings.query.reranker:
            from mmrag.models.reranker import CrossEncoderReranker

            self._reranker = CrossEncoderReranker.load(self.settings.query.reranker)
        return self._reranker

    def pixel_path(self, element: Element) -> str | None:
        return str(self.store.pixel_path(element.image)) if element.image else None

    def page_element(self, doc: str, page: int) -> Element | None:
        eid = self.store.page_element_id(doc, page)
        return self.store.get([eid]).get(eid) if eid else None

    def inspect(self) -> dict[str, Any]:
        """Documents, pages and elements by kind, and each channel's status."""
        docs = self.store.documents()
        stored = self.manifest.get("channels", {})
        channels: dict[str, Any] = {}
        for name in list_channels():
            info = stored.get(name, {})
            if name in self.disabled:
                info = {"status": "disabled", "reason": self.disabled[name]}
            channels[name] = info
        by_kind = self.store.counts()
        return {
            "index": str(self.root),
            "documents": len([d for d in docs if d["status"] == "ready"]),
            "pages": sum(d["pages"] for d in docs if d["status"] == "ready"),
            "elements": by_kind,
            "channels": channels,
            "models": self.models(),
            "docs": [
                {"doc": d["doc"], "pages": d["pages"], "status": d["status"], "sha256": d["sha256"],
                 "elements": self.store.counts(doc=d["doc"], ready_only=False)}
                for d in docs
            ],
        }

    def models(self) -> dict[str, str | None]:
        """The model each role uses, by name, as configured (no model is loaded to say it)."""
        s = self.settings
        return {
            "text": s.text.model,
            "image": f"{s.image.model}/{s.image.pretrained}" if s.image.enabled else None,
            "reranker": s.query.reranker,
            "captioner": s.captioner.model,
            "generator": s.generator.model or s.generator.base_url,
        }

    def close(self) -> None:
        if self._channels:
            for name, ch in self._channels.items():
                if self.read_only and name != "text":  # closing flushes: a reader writes nothing
                    continue
                ch.close()
        self.store.close()

    def __enter__(self) -> MMIndex:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _safe_describe(channel: Channel) -> dict[str, Any]:
    try:
        return {k: v for k, v in channel.describe().items() if k != "name"}
    except Exception as exc:  # describing is informational only
        return {"describe_error": repr(exc)}


class _DeferredImageEncoder:
    """An image encoder known by the fingerprint the manifest recorded; the model loads on first encode."""

    def __init__(self, cfg: ImageChannelSettings, recorded: dict[str, Any]) -> None:
        self.cfg = cfg
        self.recorded = recorded
        self.name = str(recorded.get("model", cfg.model))
        self.dim = int(recorded["dim"])
        self._encoder: Any = None

    def fingerprint(self) -> dict[str, Any]:
        return dict(self.recorded) if self._encoder is None else self._encoder.fingerprint()

    def _real(self) -> Any:
        if self._encoder is None:
            from mmrag.models.image_encoder import OpenClipEncoder

            cfg = self.cfg
            self._encoder = OpenClipEncoder.load(
                cfg.model, cfg.pretrained, device=cfg.device, batch_size=cfg.batch_size
            )
        return self._encoder

    def encode_images(self, images: Sequence[Any]) -> Any:
        return self._real().encode_images(images)

    def encode_text(self, texts: Sequence[str]) -> Any:
        return self._real().encode_text(texts)
