"""mmrag: multimodal retrieval-augmented generation over PDF corpora.

One import namespace from four folders (docs/development.md, "Layout"): mmrag/ (this core package), pipelines/
(mmrag.pipelines), indexes/ (mmrag.indexes) and cli/ (mmrag.cli). Layers, top to bottom, each importing only
below itself: cli → serve → pipelines → eval → indexes / generators → models / ingest / store → elements / settings /
errors (tests/test_layers.py reads the imports and checks it). This module is the public facade, an entry
point like the CLI: seven names, and `open_index` imports the pipelines when called.
"""

from __future__ import annotations

from mmrag.elements import Answer, Citation, Element, Hit
from mmrag.settings import Settings

try:
    from importlib.metadata import version as _version

    __version__ = _version("mmrag")
except Exception:  # a source tree that was never installed  # noqa: BLE001
    __version__ = "0+unknown"
__all__ = ["Answer", "Citation", "Element", "Hit", "Settings", "__version__", "open_index"]


def open_index(  # noqa: ANN201
    path: str, settings: Settings | None = None, create: bool = True, read_only: bool = False
):
    """Open (or create) an index folder; returns an `MMIndex` with `.add`, `.search`, `.ask`, `.remove`.

    read_only: search beside a running writer (another process indexing), seeing what it had finished.
    """
    from mmrag.pipelines.index import open_index as _open

    return _open(path, settings=settings, create=create, read_only=read_only)
