"""Model loading: one small protocol per role and offline-first resolution of names.

Text and image encoders (text_encoder.py, image_encoder.py with open_clip_loader.py), the reranker, the figure
captioner and VLM loading (vlm.py, shared with the transformers generator); resolve.py is the one resolver of
names to local weights. May import only the base modules (elements, settings, errors).
"""

from __future__ import annotations

from mmrag.models.resolve import resolve_device, resolve_model_path

__all__ = ["resolve_device", "resolve_model_path"]
