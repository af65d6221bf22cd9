"""mmrag.indexes (folder indexes/): retrieval channels behind one interface, and the registry of their kinds.

base.py: `Channel`, `SearchFilter` and `CHANNELS` / `list_channels()` (which channels exist, their settings
section and search modes, as data). Text: qdrant_text.py (the channel) over a `TextStore` (qdrant_store.py)
with two backends, qdrant_edge.py (embedded) and qdrant_server.py (a server by URL). Image: faiss_image.py (the
channel) over faiss_vectors.py (per-document vector files) and faiss_index.py (flat / HNSW / GPU), or, with
image.store = "qdrant", qdrant_image.py over the same Qdrant stores with an image layout; image_embed.py embeds
pixels for both. Pages (late interaction, off by default): qdrant_pages.py, page renders as Qdrant multivectors
scored by MaxSim, with their own Edge and server stores.
May import mmrag.models, mmrag.store and the base modules (elements, settings, errors); never pipelines, eval
or generators.
"""

from __future__ import annotations
