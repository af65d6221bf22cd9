"""The index manifest (schema version, settings, channel fingerprints and status) and the one place that decides
which settings an index is opened with."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmrag.errors import SettingsError
from mmrag.settings import Settings
from mmrag.store import atomic_write_bytes

SCHEMA_VERSION = 1


def read_manifest(root: Path) -> dict[str, Any] | None:
    path = root / "manifest.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    manifest = {**manifest, "schema": SCHEMA_VERSION, "updated": time.time()}
    atomic_write_bytes(root / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())


def stale_channels(stored: dict[str, Any], current: dict[str, dict[str, Any]]) -> list[str]:
    """Channels whose stored vectors were made with another fingerprint than the current one."""
    stale = []
    for name, fp in current.items():
        old = stored.get("channels", {}).get(name, {}).get("fingerprint")
        if old and fp and old != fp:
            stale.append(name)
    return stale


# Settings that shape stored vectors, added after indexes existed: an index whose manifest lacks one was built with
# this value (what the code did before), not with today's default, so its fingerprint still matches.
STORED_BEFORE: dict[tuple[str, str], Any] = {
    ("text", "element_tokens"): 0,  # whole elements embedded
}


def resolve_settings(
    root: Path, manifest: Mapping[str, Any] | None, settings: Settings | None = None, *,
    config: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """The settings an index opens with: the given ones, else a config file, else those stored in its manifest,
    else the defaults; then dotted-key `overrides` (None values ignored), e.g. {"image.device": "cuda"}.

    An existing index keeps its stored settings unless new ones are given (the facade then detects a model change).
    """
    if settings is None and config is not None:
        settings = Settings.load(config)
    if settings is None and manifest and "settings" in manifest:
        try:
            settings = Settings.from_dict(manifest["settings"])
        except SettingsError as exc:
            raise SettingsError(f"{root / 'manifest.json'}: {exc}") from None
        for (section, key), value in STORED_BEFORE.items():
            if key not in manifest["settings"].get(section, {}):
                setattr(getattr(settings, section), key, value)
    settings = settings or Settings()
    if overrides and any(v is not None for v in overrides.values()):
        settings = settings.updated(dict(overrides))
    return settings
