"""mmrag: multimodal retrieval-augmented generation over PDF corpora."""

from __future__ import annotations

from mmrag.elements import Answer, Citation, Element, Hit
from mmrag.settings import Settings

__version__ = "0.1.0"
__all__ = ["Answer", "Citation", "Element", "Hit", "Settings", "__version__"]
