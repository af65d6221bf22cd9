"""The index manifest: schema version, settings, channel fingerprints and status."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

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
