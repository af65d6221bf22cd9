"""Model loading: one small protocol per role, and offline-first resolution of names."""

from __future__ import annotations

from mmrag.models.resolve import resolve_device, resolve_model_path

__all__ = ["resolve_device", "resolve_model_path"]
