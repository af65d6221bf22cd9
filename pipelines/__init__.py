"""mmrag.pipelines (folder pipelines/): orchestration of the data path.

The index folder (index.py: MMIndex, the facade; manifest.py: the manifest and settings resolution; lock.py)
hands its parts (parts.py: IndexParts, with the channels and models loaded on first use) down to ingest (PDF →
elements → store + channels; workers.py, distributed.py for Ray), purge.py (taking documents out) and query
(channels → fusion → hits); those never import index.py. Runs over an open MMIndex sit above it: check.py,
evaluate.py, tune.py, cited_images.py. May import mmrag.eval,
mmrag.indexes, mmrag.generators, mmrag.fusion, mmrag.models, mmrag.ingest, mmrag.store and the base modules
(elements, settings, errors); imported only by the entry points (mmrag.cli, mmrag.langchain, mmrag.open_index).
"""

from __future__ import annotations
