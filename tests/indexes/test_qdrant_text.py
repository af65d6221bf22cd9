"""The Qdrant text channel on real Qdrant Edge, real qdrant-client local mode and the real MiniLM encoder."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections.abc import Iterator, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import qdrant_edge as qe  # noqa: E402
from qdrant_client import QdrantClient  # noqa: E402

from mmrag.elements import ChannelHit, Element, element_id  # noqa: E402
from mmrag.errors import IndexLocked, StaleVectors  # noqa: E402
from mmrag.indexes.base import SearchFilter  # noqa: E402
from mmrag.indexes.qdrant_text import QdrantTextChannel, embed_points  # noqa: E402
from mmrag.models.text_encoder import SentenceTransformerEncoder, TextEncoder  # noqa: E402
from mmrag.settings import TextChannelSettings  # noqa: E402


def make(doc: str, page: int, kind: str, text: str = "", caption: str = "", y: float = 0.0) -> Element:
    sha = f"sha-{doc}"
    bbox = (0.0, y, 100.0, y + 20.0)
    return Element(
        id=element_id(sha, page, kind, bbox), doc=doc, doc_sha256=sha, page=page, kind=kind, bbox=bbox,
        text=text, caption=caption,
    )


# The code appears once, buried in prose about something else; short code-like distractors share no BM25 token
# with it, so dense similarity prefers them and only the lexical side knows the exact code.
TARGET = make(
    "minutes.pdf", 3, "text",
    "The committee reviewed the annual budget, the staffing plan and the new office lease in detail. "
    "Travel costs rose because of two conferences abroad, and the board asked for a cheaper supplier. "
    "Order ZX-4471 was approved at the end of the meeting together with the minutes.",
)
CODES = [
    make("catalogue.pdf", 1, "text", "Part codes ZY-4417, XZ-4470 and ZK-4472 are listed in the catalogue."),
    make("catalogue.pdf", 1, "text", "Serial XZ-7144 and code ZC-1744 identify the spare units.", y=30),
    make("catalogue.pdf", 2, "text", "Reference numbers such as ZQ-4417A and ZS-44710 are invalid."),
    make("catalogue.pdf", 2, "text", "Catalogue entry ZV-4474: cartridge, SX-4477: gasket.", y=30),
]
FIGURE = make(
    "report.pdf", 4, "figure", "p50 p95 ms", caption="Figure 3: Median query latency of the cache under increasing load"
)
PROSE = [
    make("report.pdf", 1, "text", "Revenue grew in Europe and Asia during the third quarter, driven by new customers."),
    make("report.pdf", 2, "text", "The cache stores recently used pages in memory so that repeated reads are cheap."),
    make("report.pdf", 3, "text", "We deployed the service in three regions and monitored it for six weeks."),
    make("report.pdf", 5, "text", "Load tests ran every night; the results are archived for later analysis."),
    make("report.pdf", 5, "table", "| region | p50 |\n| --- | --- |\n| eu | 4 |", caption="Table 2: Regions"),
    make("report.pdf", 6, "page", "Appendix. Hardware: two sockets, 256 GB of memory, NVMe disks."),
]
EMPTY = make("report.pdf", 7, "figure")  # a figure with neither caption nor OCR text
CORPUS = [TARGET, *CODES, FIGURE, *PROSE, EMPTY]


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder("sentence-transformers/all-MiniLM-L6-v2", device="cpu")


@pytest.fixture
def edge(tmp_path: Path, encoder: SentenceTransformerEncoder) -> Iterator[QdrantTextChannel]:
    channel = QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder)
    channel.add(CORPUS, None)
    yield channel
    channel.close()


@pytest.fixture
def server(encoder: SentenceTransformerEncoder) -> Iterator[QdrantTextChannel]:
    channel = QdrantTextChannel.open("unused", TextChannelSettings(), encoder, location=":memory:")
    channel.add(CORPUS, None)
    yield channel
    channel.close()


def ids(hits: Sequence[ChannelHit]) -> list[str]:
    return [h.element_id for h in hits]


def scores(hits: Sequence[ChannelHit]) -> dict[str, float]:
    return {h.element_id: h.score for h in hits}


def test_exact_code_comes_from_the_lexical_side(edge: QdrantTextChannel) -> None:
    dense = ids(edge.search_dense("ZX-4471", 5))
    lexical = ids(edge.search_lexical("ZX-4471", 5))
    hybrid = edge.search("ZX-4471", 5)
    assert TARGET.id not in dense[:3]
    assert lexical == [TARGET.id]
    assert hybrid[0].element_id == TARGET.id
    assert [h.rank for h in hybrid] == [1, 2, 3, 4, 5]
    assert {h.channel for h in hybrid} == {"text"}
    assert hybrid[0].score > hybrid[1].score


def test_caption_query_finds_the_figure_first(edge: QdrantTextChannel) -> None:
    hits = edge.search("how does cache latency change with load", 5)
    assert hits[0].element_id == FIGURE.id


def test_every_kind_with_text_is_indexed_and_empty_elements_are_skipped(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    channel = QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder)
    done: list[int] = []
    n = channel.add(CORPUS, None, progress=done.append)
    assert n == len(CORPUS) - 1 == channel.count()
    assert done[-1] == n
    page = PROSE[-1]
    assert edge_ids(channel, "hardware sockets memory disks", SearchFilter(kinds=["page"])) == [page.id]
    channel.close()


def edge_ids(channel: QdrantTextChannel, query: str, flt: SearchFilter | None, k: int = 10) -> list[str]:
    return ids(channel.search(query, k, flt))


def test_filters_run_inside_the_query(edge: QdrantTextChannel) -> None:
    # A depth-1 prefetch: a filter applied after fusion would leave nothing, one applied inside finds the element.
    edge.prefetch_k = 1
    assert edge_ids(edge, "cache latency under load", SearchFilter(docs=["catalogue.pdf"]), k=1)[0] in {
        e.id for e in CODES
    }
    assert edge_ids(edge, "cache latency under load", SearchFilter(kinds=["table"]), k=1) == [PROSE[4].id]
    edge.prefetch_k = 100
    by_id = {e.id: e for e in CORPUS}
    flt = SearchFilter(docs=["report.pdf", "minutes.pdf"], kinds=["text", "figure"], pages=(3, 4))
    got = edge_ids(edge, "cache latency under load", flt)
    assert set(got) == {e.id for e in CORPUS if e.searchable_text() and flt.matches(e.doc, e.kind, e.page)}
    assert all(flt.matches(by_id[i].doc, by_id[i].kind, by_id[i].page) for i in got)
    assert edge_ids(edge, "cache", SearchFilter(docs=[])) == []
    for mode in ("dense", "lexical"):
        hits = edge.search("ZX-4471 cache", 10, SearchFilter(docs=["minutes.pdf"]), mode=mode)
        assert ids(hits) == [TARGET.id]


def test_readding_the_same_ids_replaces_points(edge: QdrantTextChannel) -> None:
    before = edge.count()
    changed = make(TARGET.doc, TARGET.page, TARGET.kind, "Purchase order QP-9000 for chairs.")
    assert changed.id == TARGET.id
    assert edge.add([*CORPUS, changed], None) == len(CORPUS) - 1  # duplicates within a call: the last one wins
    assert edge.count() == before
    assert edge.search_lexical("ZX-4471", 5) == []
    assert ids(edge.search_lexical("QP-9000", 5)) == [TARGET.id]


def test_delete_docs_removes_every_point_of_those_docs(edge: QdrantTextChannel) -> None:
    assert edge.docs() == {"minutes.pdf", "catalogue.pdf", "report.pdf"}
    edge.delete_docs(["catalogue.pdf", "minutes.pdf", "never-indexed.pdf"])
    assert edge.docs() == {"report.pdf"}
    assert edge.count() == len(PROSE) + 1
    assert edge.search("ZX-4471 spare units catalogue", 20, SearchFilter(docs=["catalogue.pdf"])) == []


def test_reopen_after_close_gives_the_same_results(tmp_path: Path, encoder: SentenceTransformerEncoder) -> None:
    queries = ["ZX-4471", "how does cache latency change with load", "regions"]
    channel = QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder)
    channel.add(CORPUS, None)
    channel.delete_docs(["minutes.pdf"])
    # Compared as id → score: elements with equal fused scores may come back in either order.
    before = [scores(channel.search(q, 5)) for q in queries]
    channel.optimize()
    for q, expected in zip(queries, before):
        assert scores(channel.search(q, 5)) == pytest.approx(expected), q
    channel.close()
    assert (tmp_path / "qdrant" / "edge_config.json").exists()
    reopened = QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder)
    for q, expected in zip(queries, before):
        assert scores(reopened.search(q, 5)) == pytest.approx(expected), q
    assert reopened.docs() == {"catalogue.pdf", "report.pdf"}
    assert reopened.describe()["points"] == len(CORPUS) - 2
    reopened.close()


def test_removed_points_leave_bm25s_statistics_once_a_fifth_of_the_points_are_gone(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """BM25's IDF counts deleted points until their segment is vacuumed. Below VACUUM_DELETED_SHARE of the points
    the count of deletions is kept beside the shard (across a reopen) and lexical scores still drift; past it the
    shard is vacuumed, and lexical scores are those of a shard that never held the removed documents."""
    from mmrag.indexes.qdrant_edge import VACUUM_DELETED_SHARE

    query = "cache latency under load in three regions"
    fresh = QdrantTextChannel.open(tmp_path / "fresh", TextChannelSettings(), encoder)
    fresh.add([FIGURE, *PROSE], None)
    expected = scores(fresh.search_lexical(query, 5))
    fresh.close()
    channel = QdrantTextChannel.open(tmp_path / "mixed", TextChannelSettings(), encoder)
    channel.add(CORPUS, None)
    points = channel.count()
    channel.delete_docs(["minutes.pdf"])
    assert 1 < VACUUM_DELETED_SHARE * points
    deleted = tmp_path / "mixed" / "qdrant.deleted"
    assert deleted.read_text() == "1"
    assert scores(channel.search_lexical(query, 5)) != pytest.approx(expected)  # the drift the vacuum removes
    channel.close()
    channel = QdrantTextChannel.open(tmp_path / "mixed", TextChannelSettings(), encoder)
    channel.delete_docs(["catalogue.pdf"])  # 1 + 4 of 12 points: past the share
    assert not deleted.exists()
    assert scores(channel.search_lexical(query, 5)) == pytest.approx(expected)
    channel.close()


def test_a_second_writer_is_refused(edge: QdrantTextChannel, tmp_path: Path, encoder: TextEncoder) -> None:
    with pytest.raises(IndexLocked):
        QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder)


class TinyEncoder:
    """A stand-in with another dimension, to check the stored layout against the encoder."""

    name = "tiny"
    dim = 8

    def encode_documents(
        self, texts: Sequence[str], batch_size: int | None = None, max_tokens: int | None = None
    ) -> np.ndarray:
        v = np.ones((len(texts), self.dim), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_documents([text])[0]


def test_another_dimension_is_reported_as_stale(tmp_path: Path, encoder: SentenceTransformerEncoder) -> None:
    QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder).close()
    with pytest.raises(StaleVectors):
        QdrantTextChannel.open(tmp_path, TextChannelSettings(), TinyEncoder())
    client = QdrantClient(location=":memory:")
    QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder, client=client)
    with pytest.raises(StaleVectors):
        QdrantTextChannel.open(tmp_path, TextChannelSettings(), TinyEncoder(), client=client)


def test_fingerprint_and_describe(edge: QdrantTextChannel, server: QdrantTextChannel) -> None:
    fp = {"model": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384, "lexical": "bm25", "page_tokens": 256,
          "chunk_header": "section", "text_form": 3, "element_tokens": 384}
    assert edge.fingerprint() == fp == server.fingerprint()
    assert edge.describe()["backend"] == "edge"
    assert server.describe()["backend"] == "server"
    assert edge.describe()["points"] == server.describe()["points"] == len(CORPUS) - 1


def test_lexical_off_searches_dense_only(tmp_path: Path, encoder: SentenceTransformerEncoder) -> None:
    channel = QdrantTextChannel.open(tmp_path, TextChannelSettings(lexical=False), encoder)
    channel.add(CORPUS, None)
    assert channel.fingerprint()["lexical"] is None
    assert ids(channel.search("ZX-4471", 5)) == ids(channel.search_dense("ZX-4471", 5))
    with pytest.raises(ValueError):
        channel.search_lexical("ZX-4471", 5)
    channel.close()


QUERIES = ["ZX-4471", "how does cache latency change with load", "revenue in Europe", "hardware of the servers"]


def test_server_adapter_in_local_mode_agrees_with_edge(edge: QdrantTextChannel, server: QdrantTextChannel) -> None:
    for q in QUERIES:
        assert server.search(q, 5)[0].element_id == edge.search(q, 5)[0].element_id, q
        # Same scores on each side (the order of exact ties is up to each engine).
        assert scores(server.search_dense(q, 5)) == pytest.approx(scores(edge.search_dense(q, 5)), abs=1e-4), q
        assert scores(server.search_lexical(q, 5)) == pytest.approx(scores(edge.search_lexical(q, 5)), abs=1e-4), q
    flt = SearchFilter(docs=["report.pdf"], kinds=["text", "figure"], pages=(3, 5))
    assert set(ids(server.search("cache", 10, flt))) == set(ids(edge.search("cache", 10, flt)))
    assert server.docs() == edge.docs()
    server.delete_docs(["report.pdf"])
    assert server.docs() == {"minutes.pdf", "catalogue.pdf"}


def test_server_adapter_persists_in_local_folder(tmp_path: Path, encoder: SentenceTransformerEncoder) -> None:
    folder = str(tmp_path / "local")
    channel = QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder, location=folder)
    channel.add(CORPUS, None)
    before = scores(channel.search("ZX-4471", 3))
    channel.close()
    reopened = QdrantTextChannel.open(tmp_path, TextChannelSettings(), encoder, location=folder)
    assert scores(reopened.search("ZX-4471", 3)) == pytest.approx(before)
    assert reopened.count() == len(CORPUS) - 1
    reopened.close()


def test_a_page_vector_reads_only_its_first_tokens_and_chunks_read_all(encoder: SentenceTransformerEncoder) -> None:
    """The page element's dense vector comes from its first `page_tokens` tokens; BM25 and chunks see all of it."""
    long_text = "Quarterly revenue grew in every region. " + "The cafeteria menu lists soups and salads. " * 60
    page = make("d", 1, "page", text=long_text)
    chunk = make("d", 1, "text", text=long_text)
    (points,) = embed_points([page, chunk], encoder, qe.Bm25(), batch_size=8, page_tokens=16)
    page_vector, chunk_vector = (np.asarray(p.dense, dtype=np.float32) for p in points)
    head = encoder.encode_documents([long_text], max_tokens=16)[0]
    whole = encoder.encode_documents([long_text])[0]
    assert float(page_vector @ head) > 0.999 and float(chunk_vector @ whole) > 0.999
    assert float(page_vector @ whole) < 0.98  # the cut is real: the tail changes the vector
    assert points[0].sparse == points[1].sparse  # BM25 reads the whole page
    (untouched,) = embed_points([page], encoder, qe.Bm25(), batch_size=8, page_tokens=0)
    assert float(np.asarray(untouched[0].dense) @ whole) > 0.999


def test_an_elements_vector_reads_its_first_element_tokens(encoder: SentenceTransformerEncoder) -> None:
    """Chunks, tables and figures read their first `element_tokens` tokens (0: all); BM25 reads all of them."""
    long_text = "Quarterly revenue grew in every region. " + "The cafeteria menu lists soups and salads. " * 60
    chunk, table = make("d", 1, "text", text=long_text), make("d", 2, "table", text=long_text)
    (points,) = embed_points([chunk, table], encoder, qe.Bm25(), batch_size=8, element_tokens=24)
    head = encoder.encode_documents([long_text], max_tokens=24)[0]
    whole = encoder.encode_documents([long_text])[0]
    assert all(float(np.asarray(p.dense, dtype=np.float32) @ head) > 0.999 for p in points)
    assert float(head @ whole) < 0.98
    (full,) = embed_points([chunk], encoder, qe.Bm25(), batch_size=8, element_tokens=0)
    assert float(np.asarray(full[0].dense, dtype=np.float32) @ whole) > 0.999
    assert full[0].sparse == points[0].sparse


def test_equal_texts_are_encoded_once(encoder: SentenceTransformerEncoder) -> None:
    heading = "PART II > Item 8. Financial Statements"
    elements = [make("d", p, "text", heading) for p in (1, 2, 3)] + [make("d", 4, "text", "Cash flows rose.")]
    calls: list[list[str]] = []

    class Counting:
        dim = encoder.dim

        def encode_documents(self, texts: Sequence[str], **kw: object) -> np.ndarray:
            calls.append(list(texts))
            return encoder.encode_documents(texts, **kw)

    (points,) = embed_points(elements, Counting(), None, batch_size=8)
    assert calls == [[heading, "Cash flows rose."]]
    vectors = np.asarray([p.dense for p in points], dtype=np.float32)
    assert np.array_equal(vectors[0], vectors[2]) and float(vectors[0] @ vectors[3]) < 0.99


def test_the_chunk_header_is_embedded_and_matched_by_both_sides(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """A chunk whose words never name its section is found by the section's title once its header is embedded."""
    chunk = make("k.pdf", 40, "text", "Cash on hand was enough for the coming year; the credit line stayed undrawn.")
    chunk.meta = {"path": ["PART II", "Item 7. Management's Discussion", "Liquidity"], "title": "ACME 10-K 2022"}
    other = make("k.pdf", 12, "text", "The company sells garden tools in forty countries through dealers.")
    other.meta = {"path": ["PART I", "Item 1. Business"], "title": "ACME 10-K 2022"}
    bare = make("k.pdf", 13, "figure")  # no text of its own: no header either, so no point
    found: dict[str, list[str]] = {}
    for header in ("none", "section", "doc+section"):
        channel = QdrantTextChannel.open(tmp_path / header, TextChannelSettings(chunk_header=header), encoder)
        assert channel.add([chunk, other, bare]) == 2
        assert channel.fingerprint()["chunk_header"] == header
        found[header] = ids(channel.search_lexical("liquidity discussion", 2))
        channel.close()
    assert found["none"] == []  # neither chunk says "liquidity"
    assert found["section"] == found["doc+section"] == [chunk.id]
    (points,) = embed_points([chunk], encoder, qe.Bm25(), batch_size=8, header="doc+section")
    expected = encoder.encode_documents(["ACME 10-K 2022\nPART II > Item 7. Management's Discussion > Liquidity\n"
                                         + chunk.text])[0]
    assert float(np.asarray(points[0].dense) @ expected) > 0.999


def test_dense_terms_join_the_dense_query_only(edge: QdrantTextChannel, encoder: SentenceTransformerEncoder) -> None:
    plain = edge.encode_query("quick ratio")
    expanded = edge.encode_query("quick ratio", dense_terms="total current assets total current liabilities")
    joined = encoder.encode_query("quick ratio total current assets total current liabilities")
    assert np.allclose(expanded.dense, joined, atol=1e-5)
    assert not np.allclose(expanded.dense, plain.dense, atol=1e-3)
    assert expanded.sparse == plain.sparse  # BM25 takes its own extra words (lexical_terms), not these
