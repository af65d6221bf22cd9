"""An index whose image vectors live in Qdrant (image.store = "qdrant"): index, search, check, remove, a reader
beside it, and a switch of store on an existing index, through MMIndex as the CLI drives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrag.errors import StaleVectors
from mmrag.indexes.faiss_image import FaissImageChannel
from mmrag.indexes.qdrant_image import QdrantImageChannel
from mmrag.pipelines.check import ERROR, check_index
from mmrag.pipelines.index import MMIndex, open_index
from mmrag.settings import Settings

DOCS = ["finfet_yield_paper.pdf", "solar_outlook_2024.pdf"]
QUERIES = ["wafer yield by lot", "solar capacity additions chart", "a table of results"]


def _ids(index: MMIndex, query: str, **kw: object) -> list[str]:
    return [h.element.id for h in index.search(query, channel="image", k=8, **kw)]  # type: ignore[arg-type]


def _vector_errors(index: MMIndex) -> list[tuple[str | None, str | None]]:
    return [(f.channel, f.doc) for f in check_index(index).findings if f.check == "vectors" and f.level == ERROR]


@pytest.mark.slow  # two PDFs indexed, then re-embedded: 30-45 s on the shared, busy 2-core machine
def test_image_vectors_in_qdrant_through_the_index(tmp_path: Path, corpus_copy: Path, tiny_settings: Settings,
                                                   sample_index: MMIndex) -> None:
    import torch

    root = tmp_path / "idx"
    in_qdrant = tiny_settings.updated({"image.store": "qdrant"})
    index = open_index(root, in_qdrant)
    torch.manual_seed(0)  # the same random CLIP weights as the sample index (built the same way)
    assert index.add([corpus_copy / d for d in DOCS]).ok
    channel = index.channels["image"]
    assert isinstance(channel, QdrantImageChannel)
    assert (root / "qdrant_image").is_dir() and not (root / "faiss").exists()
    info = index.inspect()["channels"]["image"]
    assert info["status"] == "enabled" and info["backend"] == "edge" and info["fingerprint"]["store"] == "qdrant"
    n_images = sum(index.store.counts()[k] for k in index.settings.image.kinds)
    assert info["points"] == channel.count() == n_images > 0
    # the same hits as the FAISS channel of the sample index (exact search both sides), filters included
    for query in QUERIES:
        assert _ids(index, query) == _ids(sample_index, query, docs=DOCS)
        assert _ids(index, query, kinds=["figure"], pages=(1, 2)) == _ids(sample_index, query, docs=DOCS,
                                                                            kinds=["figure"], pages=(1, 2))
    assert index.search("wafer yield", k=5)  # fused with the text channel
    assert _vector_errors(index) == []
    # a vector lost behind the index's back is found by check
    channel.delete_docs([DOCS[1]])
    assert _vector_errors(index) == [("image", DOCS[1])]
    channel.add(index.store.elements(doc=DOCS[1]), index.store.read_pixels)
    assert _vector_errors(index) == []
    before = _ids(index, QUERIES[0])
    index.close()

    # a reader beside the index (a private copy of the Edge shard) sees the same
    reader = open_index(root, read_only=True)
    torch.manual_seed(0)  # the random CLIP is built again on first use
    assert _ids(reader, QUERIES[0]) == before
    reader.close()

    # remove opens the channels without the image model and deletes the document's points
    index = open_index(root)
    assert index.remove(DOCS[0])
    channel = index.channels["image"]
    assert isinstance(channel, QdrantImageChannel) and channel.encoder._encoder is None  # type: ignore[attr-defined]
    assert set(channel.point_elements().values()) == {DOCS[1]} and channel.docs() == {DOCS[1]}
    assert _vector_errors(index) == []
    index.close()

    # switching the store of an existing index asks for a re-embed, which moves the vectors
    with pytest.raises(StaleVectors, match="reembed"):
        open_index(root, tiny_settings).add([corpus_copy / DOCS[1]])
    index = open_index(root, tiny_settings, reset_stale=True)
    torch.manual_seed(0)
    assert index.reembed() == 1
    assert isinstance(index.channels["image"], FaissImageChannel)
    assert _ids(index, QUERIES[0]) == _ids(sample_index, QUERIES[0], docs=[DOCS[1]])
    assert _vector_errors(index) == []
    index.close()
