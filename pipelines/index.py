"""MMIndex: the facade over an index folder. It opens the folder (manifest, settings, element store), takes the
writer lock, and hands the index's parts (`IndexParts`) to the ingest and query pipelines, which never call back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag.elements import Answer, Element, Hit
from mmrag.errors import IndexNotFound, MMRagError, StaleVectors
from mmrag.indexes.base import Channel, SearchFilter, list_channels
from mmrag.pipelines.ingest import (
    IndexReport,
    Progress,
    discover_pdfs,
    index_documents,
    needs_work,
    reembed,
    start_parsing,
)
from mmrag.pipelines.lock import WriterLock
from mmrag.pipelines.manifest import read_manifest, resolve_settings, stale_channels, write_manifest
from mmrag.pipelines.parts import ChannelSet, IndexParts, ModelSet, stored_section
from mmrag.pipelines.purge import remove_document
from mmrag.settings import CHANNELS as CHANNEL_SECTIONS
from mmrag.settings import Settings
from mmrag.store import ElementStore

if TYPE_CHECKING:
    from mmrag.pipelines.query import SearchResult

log = logging.getLogger(__name__)


def open_index(
    path: str | Path, settings: Settings | None = None, create: bool = True, reset_stale: bool = False,
    read_only: bool = False, *, config: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
) -> MMIndex:
    """Open (or create) the index at `path`.

    Settings: `settings`, else the `config` file, else the index's manifest, else the defaults, then dotted-key
    `overrides` (see `resolve_settings`); an existing index keeps its stored settings unless new ones are given
    (then a model change is detected).
    reset_stale: let channels drop vectors made with other models (for `reembed`) instead of refusing to open.
    read_only: search, ask and inspect only, beside a writer (another process running `mmrag index`); sees the
    index as it was when a channel was first used (documents finished by then).
    """
    return MMIndex(path, settings=settings, create=create and not read_only, reset_stale=reset_stale,
                   read_only=read_only, config=config, overrides=overrides)


class MMIndex:
    """An index folder: `elements.db`, `pixels/`, `qdrant/`, `faiss/`, `manifest.json`."""

    def __init__(
        self, path: str | Path, settings: Settings | None = None, create: bool = True, reset_stale: bool = False,
        read_only: bool = False, *, config: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = Path(path)
        self.read_only = read_only
        self._config, self._overrides = config, overrides
        manifest = read_manifest(self.root) if self.root.exists() else None
        if manifest is None and not create:
            raise IndexNotFound(f"{self.root}: no mmrag index here (create one with `mmrag index PDFS --index DIR`)")
        self.settings = resolve_settings(self.root, manifest, settings, config=config, overrides=overrides)
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest: dict[str, Any] = manifest or {"created": time.time(), "channels": {}}
        self.store = ElementStore(self.root)
        self._channels = ChannelSet(self.root, self.settings, self.manifest, read_only=read_only,
                                    reset_stale=reset_stale)
        self._models = ModelSet(self.store)

    @property
    def parts(self) -> IndexParts:
        """What the pipelines work on, with the settings as they are now."""
        return IndexParts(self.root, self.store, self.settings, self._channels, self._models)

    @property
    def channels(self) -> dict[str, Channel]:
        """Enabled channels, loaded on first use; a channel whose model cannot load is disabled with a reason."""
        return self._channels.open()

    @property
    def disabled(self) -> dict[str, str]:
        """Channels that are not available, with the reason."""
        return self._channels.disabled

    @property
    def off(self) -> dict[str, str]:
        """Channels that are off until configured (the pages channel without `pages.model`), with how to turn
        them on; known from the settings, nothing is opened to say it."""
        return {**self._channels.off_by_settings(), **self._channels.off}

    @property
    def reranker(self) -> Any:
        return self._models.reranker(self.settings.query.reranker)

    @property
    def generator(self) -> Any:
        return self._models.generator(self.settings.generator)

    @property
    def ocr(self) -> Any:
        return self._models.ocr(self.settings.ingest.ocr)

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
            parsing = None
            if reembed_stale or prune or self._settings_changed() or needs_work(self.store, files):
                if files and not ray:  # the workers take the first documents while the models load
                    parsing = start_parsing(self.store, self.settings.ingest, files)
                try:
                    self._check_fingerprints(reembed_stale, progress)
                except BaseException:
                    if parsing is not None:
                        parsing.cancel()
                    raise
            if ray:
                from mmrag.pipelines.distributed import index_documents_on_ray

                report = index_documents_on_ray(self.parts, files, ray, progress=progress, prune=prune)
            else:
                report = index_documents(self.parts, files, progress=progress, prune=prune, parsing=parsing)
            if report.resumed or report.removed:
                self.store.garbage_collect_pixels()  # crops of purged documents
            self._optimize(due_only=True, progress=progress)  # Qdrant Edge has no background optimiser
            self.save_manifest()
        return report

    def _settings_changed(self) -> bool:
        now = self.settings.to_dict()
        return any(stored_section(self.manifest, k) != now[k] for k in CHANNEL_SECTIONS)

    def reembed(self, progress: Progress | None = None) -> int:
        """Rebuild every channel's vectors from the stored elements; returns how many documents."""
        self._writable()
        with WriterLock(self.root):
            n = reembed(self.parts, progress)
            self.save_manifest()
        return n

    def optimize(self, progress: Progress | None = None) -> list[str]:
        """Let channels build their search structures now; returns the channels that did some work."""
        self._writable()
        with WriterLock(self.root):
            done = self._optimize(due_only=False, progress=progress)
            self.save_manifest()
        return done

    def _optimize(self, due_only: bool, progress: Progress | None = None) -> list[str]:
        """Optimise every channel that can (only those whose `optimize_due()` says so, with due_only)."""
        done: list[str] = []
        # A run that opened no channel added nothing: the plain share is what the last run left.
        channels = self._channels.opened() if due_only else self.channels
        for name, channel in channels.items():
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
            return remove_document(self.parts, doc)

    def update_settings(self, **sections: Any) -> None:
        """Replace whole settings sections (e.g. `query=QuerySettings(...)`) and store them in the manifest.

        Only sections that do not change stored vectors belong here (query, generator); model changes go
        through `mmrag index --reembed`.
        """
        self._writable()
        with WriterLock(self.root):
            self.settings = replace(self.settings, **sections)
            self.save_manifest()

    def _writable(self) -> None:
        if self.read_only:
            raise MMRagError(f"{self.root}: opened read-only; open it without read_only to change it")

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
            reembed(self.parts, progress, channels=todo)
        # Record the fingerprints before adding anything, so a killed run leaves a truthful manifest.
        self.save_manifest()

    def save_manifest(self) -> None:
        """Write the settings and, when the channels are open, each channel's status and fingerprint."""
        if not self._channels.is_open:  # no channel was opened: their stored status still holds
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
        return self.search_result(query, channel, docs, kinds, pages, k).hits

    def search_result(
        self, query: str, channel: str = "all", docs: list[str] | None = None, kinds: list[str] | None = None,
        pages: tuple[int, int] | None = None, k: int | None = None,
    ) -> SearchResult:
        """`search`, with the references of the query it acted on ("page 14", "Table 2")."""
        from mmrag.pipelines.query import search

        flt = SearchFilter(docs=docs, kinds=kinds, pages=pages)
        return search(self.parts, query, channel=channel, flt=flt, k=k or self.settings.query.k)

    def ask(
        self, question: str, docs: list[str] | None = None, kinds: list[str] | None = None,
        pages: tuple[int, int] | None = None, k: int | None = None,
    ) -> Answer:
        """Retrieve, then answer with the configured generator (extractive when none)."""
        hits = self.search(question, docs=docs, kinds=kinds, pages=pages, k=k)
        return self.generator.generate(question, hits)

    def reopened(self) -> MMIndex:
        """A fresh read-only view of this folder, seeing the documents finished since this one was opened, with
        the stored settings (a tuned `query` section included) and the models this one has loaded.

        For a long-running reader (`mmrag serve`): open it, warm it, swap it in, then close this one.
        """
        fresh = MMIndex(self.root, create=False, read_only=True, config=self._config, overrides=self._overrides)
        self._models.store = fresh.store  # the captioner's cache lives in the store; the models stay loaded
        fresh._models = self._models
        return fresh

    def pixel_path(self, element: Element) -> str | None:
        return self.parts.pixel_path(element)

    def page_element(self, doc: str, page: int) -> Element | None:
        return self.store.page_element(doc, page)

    def inspect(self) -> dict[str, Any]:
        """Documents, pages and elements by kind, and each channel's status."""
        docs = self.store.documents()
        stored = self.manifest.get("channels", {})
        channels: dict[str, Any] = {}
        off = self.off
        for name in list_channels():
            info = stored.get(name, {})
            if name in self.disabled:
                info = {"status": "disabled", "reason": self.disabled[name]}
            elif name in off:
                info = {"status": "off", "reason": off[name]}
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
            "pages": s.pages.model,
            "reranker": s.query.reranker,
            "captioner": s.captioner.model,
            "generator": s.generator.model or s.generator.base_url,
        }

    def close(self) -> None:
        self._channels.close()
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
