"""mmrag.pipelines (folder pipelines/): orchestration of the data path.

The index folder (index.py: MMIndex, manifest.py, lock.py), ingest (PDF → elements → store + channels), query
(channels → fusion → generator, cited_images) and eval runs (evaluate.py). May import mmrag.eval,
mmrag.indexes, mmrag.generators, mmrag.fusion, mmrag.models, mmrag.ingest, mmrag.store and the base modules
(elements, settings, errors); imported only by the entry points (mmrag.cli, mmrag.langchain, mmrag.open_index).
"""

from __future__ import annotations
