"""Search at scale: build indexes of N elements, time what `mmrag search` runs per channel and fused, and
measure recall@10 of the approximate indexes against exact search.

    nice python benchmarks/bench_scale.py                          # 10k and 100k elements (~30 min on 2 cores)
    nice python benchmarks/bench_scale.py --sizes 1000000 --json   # 1M: hours on 2 cores, see README

Per size N, each channel is opened the way `mmrag index` opens it and searched through its own methods:
- text channel: `QdrantTextChannel` on a Qdrant Edge shard (default settings), N points with a 384-d dense
  vector and BM25 terms of real text — sentences sampled from the dev-set PDFs (`../shared/devset/pdfs`,
  extracted with PyMuPDF), 1-4 per element. Timed, on plain segments and after optimise (HNSW): each side alone
  (`text:dense`, `text:lexical`), both sides (`search_all`: two Qdrant queries from one encoded query) and
  both fused by `mmrag.fusion.fuse` with the default query settings, as the query path does (unfiltered, and
  filtered to one document's text and figures); recall@10 of the HNSW dense side, and of the fused text
  ranking, against the same with an exact dense side.
- image channel, both stores: FAISS (flat, and HNSW with the channel's M/efSearch, as `FaissImageChannel`
  builds them) and Qdrant (`QdrantImageChannel.search_vector`, image.store = "qdrant", on an Edge shard: exact
  on plain segments, HNSW after optimise for segments past image.exact_max points): N 512-d vectors; build,
  p50/p95, recall@10 against exact flat search.
- fused: what `mmrag search` runs per query once its query is encoded: the text channel's two sides and the
  image channel, 50 deep each (query.per_channel_k), fused with the default query settings (weighted fusion,
  no page collapse: that needs the element store); once with the image channel in FAISS HNSW, once in Qdrant.

- pages channel (`--channels pages`, alone or beside text): late-interaction page vectors (ColPali / ColQwen2
  shape: `--page-tokens` 128-d vectors a page, `--query-tokens` a query) as a Qdrant multivector on an Edge
  shard through `QdrantPagesChannel`, float16 storage (pages.datatype), once per `--pool-factors` entry (a
  pooled index stores tokens/f vectors a page; the clustering itself, `pool_tokens`, is timed on a few pages
  apart). Per variant: build and optimise time, bytes per page on disk and of the vectors alone, p50/p95 of the
  exact MaxSim scan (`--full-queries` queries: it reads every vector) and of two-stage search (pooled vector
  HNSW → `--first-stage-k` candidates → MaxSim; unfiltered and one-doc filtered), recall@10 of two-stage against
  the exact scan, and how often the page a query was drawn from is in the top 10 (target@10) in each; with
  the text channel too, the text sides and the pages channel fused.

Query encoding is not timed (the vectors are given; `bench_text_channel.py` times the encoders). Dense vectors
are random unit vectors drawn around cluster centres (~50 per cluster), not model embeddings: encoding 100k
texts with MiniLM on two cores takes tens of minutes, and uniform random vectors have no neighbours for an ANN
index to find, so recall would mean nothing. Queries are drawn the same way; lexical queries are 3-5 words
taken from a random element's text.

Each run writes its result to benchmarks/results/scale-<date>-<label>.json (`--results-dir`, `--label`), in the
envelope of benchmarks/results.py; benchmarks/render_pages.py makes the benchmark pages from those files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import qdrant_edge as qe
from results import add_results_dir_option, machine, size_label, write_result

from mmrag.elements import ChannelHit
from mmrag.fusion import FusedItem, fuse
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.faiss_index import HNSW_EF_SEARCH, HNSW_GRAPH, HnswIndex
from mmrag.indexes.qdrant_image import QdrantImageChannel
from mmrag.indexes.qdrant_pages import PagePoint, QdrantPagesChannel
from mmrag.indexes.qdrant_store import DENSE, SparseTerms, TextPoint
from mmrag.indexes.qdrant_text import QdrantTextChannel, TextQuery
from mmrag.models.late_interaction import pool_tokens, pooled_vector
from mmrag.pipelines.query import channel_weight
from mmrag.settings import ImageChannelSettings, PagesChannelSettings, QuerySettings, TextChannelSettings

ROOT = Path(__file__).resolve().parents[1]
# ../shared/devset beside the checkout (or beside the folder of worktrees)
DEVSET = next((d for d in (ROOT.parent / "shared/devset/pdfs", ROOT.parents[1] / "shared/devset/pdfs") if d.exists()),
              ROOT.parent / "shared/devset/pdfs")
TEXT_DIM, IMAGE_DIM, PAGE_DIM = 384, 512, 128
QUERY = QuerySettings()
K, DEPTH = QUERY.k, QUERY.per_channel_k
ELEMENTS_PER_DOC = 200
KINDS = ("text", "text", "figure", "table", "page")


def say(line: str, quiet: bool) -> None:
    print(line, file=sys.stderr if quiet else sys.stdout, flush=True)


# ---------------------------------------------------------------------------------------------- data
def devset_sentences(folder: Path, limit: int = 200_000) -> list[str]:
    """Sentences of 30-400 characters from the PDFs' text layer (PyMuPDF), in document order."""
    import pymupdf

    sentences: list[str] = []
    for pdf in sorted(folder.glob("*.pdf")):
        with pymupdf.open(pdf) as doc:
            for page in doc:
                text = re.sub(r"\s+", " ", page.get_text())
                sentences += [s for s in re.split(r"(?<=[.!?])\s+", text) if 30 <= len(s) <= 400]
                if len(sentences) >= limit:
                    return sentences
    if not sentences:
        raise SystemExit(f"no text found under {folder}: pass --pdfs with a folder of PDFs")
    return sentences


def element_texts(n: int, sentences: Sequence[str], rng: random.Random) -> list[str]:
    return [" ".join(rng.choices(sentences, k=rng.randint(1, 4))) for _ in range(n)]


def clustered(n: int, dim: int, centres: np.ndarray, rng: np.random.Generator, sigma: float = 0.8) -> np.ndarray:
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):  # in blocks: 1M x 512 floats at once would double peak memory
        m = min(100_000, n - start)
        x = centres[rng.integers(0, len(centres), m)] + sigma * rng.standard_normal((m, dim), np.float32) / np.sqrt(dim)
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def centres_for(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    c = rng.standard_normal((max(1, n // 50), dim), dtype=np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def payload(i: int) -> dict[str, Any]:
    page = (i % ELEMENTS_PER_DOC) // 10 + 1
    return {"element_id": f"e{i}", "doc": f"doc{i // ELEMENTS_PER_DOC:05d}.pdf", "page": page, "kind": KINDS[i % 5]}


# ---------------------------------------------------------------------------------------------- timing
def timed(run: Callable[[int], Any], n: int) -> tuple[dict[str, float], list[Any]]:
    run(0)  # warm-up
    times, results = [], []
    for i in range(n):
        t0 = time.perf_counter()
        results.append(run(i))
        times.append((time.perf_counter() - t0) * 1000)
    stats = {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}
    return stats, results


def recall(approx: Sequence[Sequence[Any]], exact: Sequence[Sequence[Any]]) -> float:
    return round(float(np.mean([len(set(a) & set(e)) / max(1, len(e)) for a, e in zip(approx, exact)])), 4)


def fmt(t: dict[str, float]) -> str:
    return f"p50 {t['p50_ms']:.2f} ms p95 {t['p95_ms']:.2f} ms"


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def folder_mb(path: Path) -> float:
    """Disk space in use (allocated blocks: Qdrant preallocates sparse files)."""
    return round(sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()) / 2**20, 1)


# ---------------------------------------------------------------------------------------------- channels
class RandomTextEncoder:
    """Stands in for the text model: the benchmark gives each query's vector, nothing is encoded."""

    name, dim = "bench-random-384", TEXT_DIM

    def encode_query(self, text: str) -> np.ndarray:
        raise AssertionError("queries come encoded")


class RandomImageEncoder:
    name, dim = "bench-random-512", IMAGE_DIM

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.name, "pretrained": "random", "dim": self.dim}


def terms(v: Any) -> SparseTerms:
    return SparseTerms(list(v.indices), list(v.values))


def fuse_as_query(rankings: dict[str, list[ChannelHit]]) -> list[FusedItem]:
    """The rankings fused as the query path fuses them (default query settings, no page collapse), top k."""
    weights = {name: channel_weight(QUERY.weights, name) for name in rankings}
    return fuse(rankings, method=QUERY.fusion, weights=weights, rrf_k=QUERY.rrf_k)[:K]


def keys(items: Sequence[FusedItem]) -> list[str]:
    return [str(u.key) for u in items]


def hit_ids(hits: Sequence[ChannelHit]) -> list[str]:
    return [h.element_id for h in hits]


class TextBench:
    """The text channel over a Qdrant Edge shard of N elements, and the queries to run on it."""

    def __init__(self, folder: Path, texts: list[str], dense: np.ndarray, queries: list[tuple[np.ndarray, str]]):
        self.folder = folder
        self.channel = QdrantTextChannel.open(folder, TextChannelSettings(), RandomTextEncoder())  # type: ignore[arg-type]
        self.store = self.channel.store
        bm25 = self.channel.bm25
        self.texts, self.dense = texts, dense
        self.queries = [TextQuery(q, v.tolist(), terms(bm25.embed_query(q))) for v, q in queries]

    def build(self, batch: int = 1000) -> float:
        """Upsert every point as `QdrantTextChannel.add` would (BM25 terms computed here, dense given)."""
        bm25 = self.channel.bm25
        t0 = time.perf_counter()
        for start in range(0, len(self.texts), batch):
            self.channel.add_points([
                TextPoint(i, self.dense[i].tolist(), terms(bm25.embed_document(self.texts[i])), payload(i))
                for i in range(start, min(start + batch, len(self.texts)))
            ])
        self.channel.flush()
        return time.perf_counter() - t0

    def side(self, i: int, side: str) -> list[str]:
        q = self.queries[i]
        one = TextQuery(q.text, q.dense if side == "dense" else None, q.sparse if side == "lexical" else None)
        return hit_ids(self.channel.search_all(one, K).get(f"text:{side}", []))

    def sides(self, i: int, k: int = DEPTH, flt: SearchFilter | None = None) -> dict[str, list[ChannelHit]]:
        return self.channel.search_all(self.queries[i], k, flt)

    def fused(self, i: int, flt: SearchFilter | None = None) -> list[str]:
        return keys(fuse_as_query(self.sides(i, DEPTH, flt)))

    def exact_dense(self, i: int, k: int) -> list[ChannelHit]:
        """The dense side with exact search (the shard's own exact flag): the reference for HNSW recall."""
        request = qe.QueryRequest(limit=k, query=qe.Query.Nearest(self.queries[i].dense, using=DENSE),
                                  params=qe.SearchParams(exact=True), with_payload=["element_id"])
        ranked = sorted(((str(h.payload["element_id"]), float(h.score)) for h in self.store.shard.query(request)),
                        key=lambda r: (-r[1], r[0]))
        return [ChannelHit(eid, s, r, "text:dense") for r, (eid, s) in enumerate(ranked, start=1)]

    def fused_exact(self, i: int) -> list[str]:
        q = self.queries[i]
        lexical = self.channel.search_all(TextQuery(q.text, None, q.sparse), DEPTH)
        return keys(fuse_as_query({"text:dense": self.exact_dense(i, DEPTH), **lexical}))

    def close(self) -> None:
        self.channel.close()


def time_text(tb: TextBench, n_queries: int, one_doc: SearchFilter, r: dict[str, Any]) -> list[list[str]]:
    """p50/p95 of each side, both sides and fused (unfiltered and one-doc filtered); returns the fused top 10s."""
    r["dense"], _ = timed(lambda i: tb.side(i, "dense"), n_queries)
    r["lexical"], _ = timed(lambda i: tb.side(i, "lexical"), n_queries)
    r["sides"], _ = timed(lambda i: tb.sides(i), n_queries)
    r["fused"], fused = timed(tb.fused, n_queries)
    r["fused_filtered"], _ = timed(lambda i: tb.fused(i, one_doc), n_queries)
    return fused


def bench_text(tb: TextBench, n_queries: int, one_doc: SearchFilter, quiet: bool, optimize: bool) -> dict[str, Any]:
    r: dict[str, Any] = {"build_s": round(tb.build(), 2), "plain": {}}
    time_text(tb, n_queries, one_doc, r["plain"])
    pl = r["plain"]
    say(f"  text  build {r['build_s']} s; plain segments: dense {fmt(pl['dense'])}, lexical {fmt(pl['lexical'])}, "
        f"both sides {fmt(pl['sides'])}, fused {fmt(pl['fused'])}, one-doc filter {fmt(pl['fused_filtered'])}", quiet)
    if not optimize:
        r["disk_mb"] = folder_mb(tb.folder)
        r["shard"] = tb.store.describe()
        say(f"  text  not optimised (--optimize-max); {r['disk_mb']} MB on disk", quiet)
        return r
    t0 = time.perf_counter()
    tb.channel.optimize()
    r["optimize_s"] = round(time.perf_counter() - t0, 2)
    r["shard"] = tb.store.describe()
    r["disk_mb"] = folder_mb(tb.folder)
    r["hnsw"] = {}
    fused = time_text(tb, n_queries, one_doc, r["hnsw"])
    r["hnsw"]["dense_exact"], exact = timed(lambda i: hit_ids(tb.exact_dense(i, K)), n_queries)
    hnsw = [tb.side(i, "dense") for i in range(n_queries)]
    r["dense_recall@10"] = recall(hnsw, exact)
    r["fused_recall@10"] = recall(fused, [tb.fused_exact(i) for i in range(n_queries)])
    h = r["hnsw"]
    say(f"  text  optimise {r['optimize_s']} s ({r['shard']['segments']} segments, {r['shard']['plain_points']} "
        f"points left plain, {r['disk_mb']} MB); dense {fmt(h['dense'])} (exact {fmt(h['dense_exact'])}), lexical "
        f"{fmt(h['lexical'])}, both sides {fmt(h['sides'])}, fused {fmt(h['fused'])}, one-doc filter "
        f"{fmt(h['fused_filtered'])}; recall@10 dense {r['dense_recall@10']}, fused {r['fused_recall@10']}", quiet)
    return r


# ---------------------------------------------------------------------------------------------- image channel
def bench_faiss(
    vectors: np.ndarray, queries: np.ndarray, quiet: bool
) -> tuple[dict[str, Any], HnswIndex, list[list[str]]]:
    """FAISS flat and HNSW; returns the figures, the HNSW index and the exact (flat) top 10s."""
    n_queries = len(queries) - 1
    r: dict[str, Any] = {}
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(IMAGE_DIM)
    flat.add(vectors)
    r["flat_build_s"] = round(time.perf_counter() - t0, 2)
    r["flat"], exact = timed(lambda i: [f"e{j}" for j in flat.search(queries[i : i + 1], K)[1][0].tolist()],
                             n_queries)
    t0 = time.perf_counter()
    hnsw = HnswIndex.new(IMAGE_DIM)  # the channel's own index (IDMap2 over IndexHNSWFlat, its M/efConstruction)
    hnsw.add(vectors, np.arange(len(vectors), dtype=np.int64))
    r["hnsw_build_s"] = round(time.perf_counter() - t0, 2)
    r["hnsw"], approx = timed(lambda i: hit_ids(faiss_hits(hnsw, queries[i], K)), n_queries)
    r["hnsw_recall@10"] = recall(approx, exact)
    r["hnsw_params"] = {**HNSW_GRAPH, "efSearch": HNSW_EF_SEARCH}
    say(f"  image FAISS flat {fmt(r['flat'])} (build {r['flat_build_s']} s); HNSW {fmt(r['hnsw'])} "
        f"(build {r['hnsw_build_s']} s), recall@10 {r['hnsw_recall@10']}", quiet)
    flat.reset()  # free its memory before the next runs
    return r, hnsw, exact


def faiss_hits(index: HnswIndex, query: np.ndarray, k: int) -> list[ChannelHit]:
    """Labels mapped to element ids, as `FaissImageChannel.search_vector` does (its index's own search)."""
    scores, ids = index.search(query[None, :], k, None)
    return [ChannelHit(f"e{int(i)}", float(s), r, "image")
            for r, (s, i) in enumerate(zip(scores[0], ids[0]), start=1) if i >= 0]


def bench_qdrant_image(folder: Path, vectors: np.ndarray, queries: np.ndarray, exact: list[list[str]],
                       one_doc: SearchFilter, quiet: bool, optimize: bool) -> tuple[dict[str, Any], QdrantImageChannel]:
    """The image channel with image.store = "qdrant" on an Edge shard: build, search plain and after optimise."""
    n_queries = len(queries) - 1
    settings = ImageChannelSettings(store="qdrant")
    channel = QdrantImageChannel.open(folder, settings, RandomImageEncoder(), text=TextChannelSettings())  # type: ignore[arg-type]
    r: dict[str, Any] = {"exact_max": settings.exact_max}
    t0 = time.perf_counter()
    for start in range(0, len(vectors), 1000):  # what add_vectors upserts, without building Element objects
        channel.store.upsert([TextPoint(i, vectors[i].tolist(), None, payload(i))
                              for i in range(start, min(start + 1000, len(vectors)))])
    channel.flush()
    r["build_s"] = round(time.perf_counter() - t0, 2)

    def search(i: int, flt: SearchFilter | None = None) -> list[str]:
        return hit_ids(channel.search_vector(queries[i], K, flt))

    r["plain"], got = timed(search, n_queries)
    r["plain_filtered"], _ = timed(lambda i: search(i, one_doc), n_queries)
    r["plain_recall@10"] = recall(got, exact)
    say(f"  image Qdrant build {r['build_s']} s; plain segments {fmt(r['plain'])} (recall@10 {r['plain_recall@10']}), "
        f"one-doc filter {fmt(r['plain_filtered'])}", quiet)
    if optimize:
        t0 = time.perf_counter()
        channel.optimize()
        r["optimize_s"] = round(time.perf_counter() - t0, 2)
        r["shard"] = channel.store.describe()
        r["hnsw"], got = timed(search, n_queries)
        r["hnsw_filtered"], _ = timed(lambda i: search(i, one_doc), n_queries)
        r["hnsw_recall@10"] = recall(got, exact)
        say(f"  image Qdrant optimise {r['optimize_s']} s ({r['shard']['points'] - r['shard']['plain_points']} of "
            f"{r['shard']['points']} in HNSW); {fmt(r['hnsw'])} (recall@10 {r['hnsw_recall@10']}), one-doc filter "
            f"{fmt(r['hnsw_filtered'])}", quiet)
    r["disk_mb"] = folder_mb(folder / "qdrant_image")
    return r, channel


# ---------------------------------------------------------------------------------------------- pages channel
class RandomPagesEncoder:
    """Stands in for ColQwen2: the benchmark gives every page's and query's vectors, nothing is encoded."""

    name, dim = "bench-random-colqwen2", PAGE_DIM

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.name, "dim": self.dim, "max_pixels": 0}


def unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class PageData:
    """Random page and query vectors of the real shape with the structure that makes two-stage search hard (not
    model embeddings): a vocabulary of concept vectors, topics of 200 concepts (~50 pages each), and pages made
    of `REGIONS` concepts of their topic (a handful from anywhere), each of a page's vectors scattered around one
    of them. A query's vectors scatter around 3 concepts of the page it is drawn from (its target), so it matches
    a few regions of its page — and of the other pages of the topic that share them — while the page's pooled
    vector is the mean of all its regions. Page i is regenerated from (seed, i) on demand, so N pages never sit
    in memory at once."""

    CONCEPTS, TOPIC_CONCEPTS, REGIONS, NOISE = 20_000, 200, 24, 0.9

    def __init__(self, n: int, tokens: int, seed: int) -> None:
        self.n, self.tokens, self.seed = n, tokens, seed
        rng = np.random.default_rng(seed)
        self.concepts = unit_rows(rng.standard_normal((self.CONCEPTS, PAGE_DIM)))
        self.topics = max(1, n // 50)

    def regions(self, i: int) -> np.ndarray:
        """The concepts page i is made of: mostly from its topic's, a few from anywhere."""
        rng = np.random.default_rng((self.seed, i, 0))
        topic = rng.integers(0, self.topics)
        own = (topic * self.TOPIC_CONCEPTS + rng.choice(self.TOPIC_CONCEPTS, self.REGIONS - 4, replace=False))
        return np.concatenate([own % self.CONCEPTS, rng.integers(0, self.CONCEPTS, 4)])

    def _around(self, concepts: np.ndarray, tokens: int, rng: np.random.Generator) -> np.ndarray:
        centres = self.concepts[concepts[np.arange(tokens) % len(concepts)]]
        return unit_rows(centres + self.NOISE * rng.standard_normal((tokens, PAGE_DIM)) / np.sqrt(PAGE_DIM))

    def page(self, i: int, tokens: int) -> np.ndarray:
        return self._around(self.regions(i), tokens, np.random.default_rng((self.seed, i, 1)))

    def query(self, target: int, tokens: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, target, 2))
        return self._around(rng.choice(self.regions(target), 3, replace=False), tokens, rng)


def page_payload(i: int) -> dict[str, Any]:
    """A page element's payload: 20 pages a document."""
    return {"element_id": f"p{i}", "doc": f"doc{i // 20:05d}.pdf", "page": i % 20 + 1, "kind": "page"}


def bench_pages_variant(root: Path, data: PageData, factor: int, queries: list[np.ndarray], targets: list[int],
                        args: argparse.Namespace, one_doc: SearchFilter, quiet: bool,
                        text: TextBench | None) -> dict[str, Any]:
    """One stored form of the pages channel (pool factor `factor`): build, optimise, bytes, exact and two-stage
    search."""
    folder = root / f"pages_f{factor}"
    settings = PagesChannelSettings(model=RandomPagesEncoder.name, pool_factor=factor, first_stage_k=args.first_stage_k)
    channel = QdrantPagesChannel.open(folder, settings, RandomPagesEncoder(), text=TextChannelSettings())  # type: ignore[arg-type]
    stored = max(1, args.page_tokens // factor)
    r: dict[str, Any] = {"pool_factor": factor, "vectors_per_page": stored, "datatype": settings.datatype}
    t0 = time.perf_counter()
    for start in range(0, data.n, 200):  # what add_vectors upserts (vectors already pooled to their stored count)
        points = []
        for i in range(start, min(start + 200, data.n)):
            vectors = data.page(i, stored)
            points.append(PagePoint(i, vectors, pooled_vector(vectors), page_payload(i)))
        channel.store.upsert_pages(points)
    channel.flush()
    r["build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    channel.optimize()  # merges segments, builds the pooled vectors' HNSW
    r["optimize_s"] = round(time.perf_counter() - t0, 2)
    r["disk_mb"] = folder_mb(folder / "qdrant_pages")
    r["disk_bytes_per_page"] = round(r["disk_mb"] * 2**20 / data.n)
    r["vector_bytes_per_page"] = stored * PAGE_DIM * 2 + PAGE_DIM * 4  # float16 multivector + float32 pooled

    def search(i: int, two_stage: bool, flt: SearchFilter | None = None, k: int = K) -> list[ChannelHit]:
        channel.settings.two_stage = two_stage
        return channel.search_vectors(queries[i], k, flt)

    n_full = min(args.full_queries, len(queries) - 1)
    r["full"], full = timed(lambda i: hit_ids(search(i, False)), n_full)
    n_q = len(queries) - 1
    r["two_stage"], two = timed(lambda i: hit_ids(search(i, True)), n_q)
    r["two_stage_filtered"], _ = timed(lambda i: hit_ids(search(i, True, one_doc)), n_q)
    r["two_stage_recall@10"] = recall(two[:n_full], full)
    r["full_target@10"] = round(float(np.mean([f"p{targets[i]}" in full[i] for i in range(n_full)])), 4)
    r["two_stage_target@10"] = round(float(np.mean([f"p{targets[i]}" in two[i] for i in range(n_q)])), 4)
    say(f"  pages pool {factor} ({stored} vectors/page): build {r['build_s']} s, optimise {r['optimize_s']} s, "
        f"{r['disk_bytes_per_page']:,} B/page on disk ({r['vector_bytes_per_page']:,} B of vectors); exact MaxSim "
        f"{fmt(r['full'])}; two-stage ({args.first_stage_k}) {fmt(r['two_stage'])}, one-doc filter "
        f"{fmt(r['two_stage_filtered'])}; recall@10 {r['two_stage_recall@10']}; target@10 exact "
        f"{r['full_target@10']}, two-stage {r['two_stage_target@10']}", quiet)
    if text is not None:
        def fused(i: int) -> list[str]:
            return keys(fuse_as_query({**text.sides(i, DEPTH), "pages": search(i, True, k=DEPTH)}))

        r["fused_with_text"], _ = timed(fused, n_q)
        say(f"  pages pool {factor}: text sides + pages (two-stage) fused {fmt(r['fused_with_text'])}", quiet)
    channel.close()
    shutil.rmtree(folder, ignore_errors=True)
    return r


def bench_pages(n: int, root: Path, args: argparse.Namespace, quiet: bool, text: TextBench | None) -> dict[str, Any]:
    data = PageData(n, args.page_tokens, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    targets = [int(t) for t in rng.integers(0, n, args.queries + 1)]
    queries = [data.query(t, args.query_tokens) for t in targets]
    one_doc = SearchFilter(docs=[f"doc{(n // 20) // 2:05d}.pdf"])
    sample = [data.page(i, args.page_tokens) for i in range(min(20, n))]
    out: dict[str, Any] = {"pages": n, "page_tokens": args.page_tokens, "query_tokens": args.query_tokens,
                           "dim": PAGE_DIM, "first_stage_k": args.first_stage_k, "pool_ms_per_page": {}}
    for factor in args.pool_factors:
        if factor > 1:
            t0 = time.perf_counter()
            for vectors in sample:
                pool_tokens(vectors, factor)
            out["pool_ms_per_page"][str(factor)] = round((time.perf_counter() - t0) * 1000 / len(sample), 1)
        out[f"pool{factor}"] = bench_pages_variant(root, data, factor, queries, targets, args, one_doc, quiet, text)
    return out


# ---------------------------------------------------------------------------------------------- main
def run_size(n: int, args: argparse.Namespace, sentences: list[str], root: Path) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    prng = random.Random(args.seed)
    quiet = args.json
    channels = args.channels.split(",")
    # the text channel runs unless only pages were asked for (the image channel's fused run needs it)
    with_image, with_text = "image" in channels, "text" in channels or "pages" not in channels
    one_doc = SearchFilter(docs=[f"doc{(n // ELEMENTS_PER_DOC) // 2:05d}.pdf"], kinds=["text", "figure"])
    folder = root / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    optimize = n <= args.optimize_max
    result: dict[str, Any] = {"elements": n}
    tb: TextBench | None = None
    if with_text:
        t0 = time.perf_counter()
        texts = element_texts(n, sentences, prng)
        text_centres = centres_for(n, TEXT_DIM, rng)
        dense = clustered(n, TEXT_DIM, text_centres, rng)
        lexical = [" ".join(prng.sample(w, min(len(w), prng.randint(3, 5)))) for w in
                   (texts[prng.randrange(n)].split() for _ in range(args.queries + 1))]
        text_queries = list(zip(clustered(args.queries + 1, TEXT_DIM, text_centres, rng), lexical))
        say(f"N = {n:,}: data ready in {time.perf_counter() - t0:.1f} s", quiet)
        tb = TextBench(folder, texts, dense, text_queries)
        result["text"] = bench_text(tb, args.queries, one_doc, quiet, optimize)
        del texts, dense
    if "pages" in channels:
        result["pages"] = bench_pages(n, folder, args, quiet, tb)
    if with_image:
        image_centres = centres_for(n, IMAGE_DIM, rng)
        image_vectors = clustered(n, IMAGE_DIM, image_centres, rng)
        image_queries = clustered(args.queries + 1, IMAGE_DIM, image_centres, rng)
        result["image_faiss"], hnsw, exact = bench_faiss(image_vectors, image_queries, quiet)
        result["image_qdrant"], qimage = bench_qdrant_image(folder, image_vectors, image_queries, exact, one_doc,
                                                            quiet, optimize)
        del image_vectors

        assert tb is not None

        def fused(i: int, image: Callable[[np.ndarray], list[ChannelHit]]) -> list[str]:
            return keys(fuse_as_query({**tb.sides(i, DEPTH), "image": image(image_queries[i])}))

        result["fused_faiss"], _ = timed(lambda i: fused(i, lambda q: faiss_hits(hnsw, q, DEPTH)), args.queries)
        result["fused_qdrant"], _ = timed(lambda i: fused(i, lambda q: qimage.search_vector(q, DEPTH)), args.queries)
        say(f"  fused (text sides + image, {DEPTH} deep each, {QUERY.fusion}): image in FAISS "
            f"{fmt(result['fused_faiss'])}, image in Qdrant {fmt(result['fused_qdrant'])}", quiet)
        qimage.close()
    result["peak_rss_mb"] = rss_mb()
    say(f"  peak RSS so far {result['peak_rss_mb']} MB", quiet)
    if tb is not None:
        tb.close()
    shutil.rmtree(folder, ignore_errors=True)
    return result


def compared_text(sizes: list[int], channels: list[str], optimize_max: int) -> str:
    """What one run compares, for its result file."""
    parts = []
    optimised = [n for n in sizes if n <= optimize_max]
    if "text" in channels:
        parts.append("the text channel's dense and lexical sides alone, both sides and fused (unfiltered and one-doc "
                     "filtered) on plain segments" + (", then after optimise (HNSW), with recall@10 against exact "
                     "search" if optimised else " (not optimised)"))
    if "pages" in channels:
        parts.append("the pages channel (random multivectors of the ColQwen2 shape, float16) at each pool factor: "
                     "exact MaxSim scan vs two-stage search (pooled-vector HNSW, then MaxSim), recall@10 of "
                     "two-stage against the scan, bytes per page")
    if "image" in channels:
        parts.append("the image channel in FAISS flat vs HNSW (recall@10 vs flat) and in Qdrant (plain"
                     + (", then HNSW" if optimised else "") + ")")
        if "text" in channels:
            parts.append("all channels fused with the image channel in FAISS HNSW vs in Qdrant")
    return (f"at {', '.join(f'{n:,}' for n in sizes)} elements, in the same run: " + "; ".join(parts)
            + "; query encoding not timed")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="element counts, comma-separated (1000000 supported)")
    p.add_argument("--queries", type=int, default=200, help="timed queries per size and index")
    p.add_argument("--pdfs", type=Path, default=DEVSET, help="PDFs whose text feeds BM25")
    p.add_argument("--optimize-max", type=int, default=10**9,
                   help="optimise (HNSW) and measure recall only up to this size: the build is the slow part")
    p.add_argument("--channels", default="text,image", help="text,image,pages (fused needs text and another)")
    p.add_argument("--page-tokens", type=int, default=700, help="pages channel: vectors a page (ColQwen2: ~700)")
    p.add_argument("--query-tokens", type=int, default=20, help="pages channel: vectors a query")
    p.add_argument("--pool-factors", default="1,3", help="pages channel: stored forms to build (1: no pooling)")
    p.add_argument("--first-stage-k", type=int, default=200, help="pages channel: two-stage candidates")
    p.add_argument("--full-queries", type=int, default=20,
                   help="pages channel: queries for the exact MaxSim scan (it reads every vector)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    p.add_argument("--label", default=None, help="name in the result file (default: from --sizes and --channels)")
    add_results_dir_option(p)
    args = p.parse_args(argv)
    args.pool_factors = [int(f) for f in str(args.pool_factors).split(",") if f]
    started = machine()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    channels = [c for c in args.channels.split(",") if c]
    pages_only = channels == ["pages"]
    sentences = [] if pages_only else devset_sentences(args.pdfs)
    report: dict[str, Any] = {"queries": args.queries, "sizes": {}}
    if not pages_only:
        report = {"text_source": f"{len(sentences)} sentences from {args.pdfs}", **report}
    source = "pages channel only" if pages_only else f"{len(sentences)} sentences from {args.pdfs}"
    say(f"{source}; {args.queries} queries per index; load average {os.getloadavg()[0]:.1f}", args.json)
    root = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    try:
        for n in sizes:
            report["sizes"][str(n)] = run_size(n, args, sentences, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.results_dir:
        label = args.label or "-".join(
            [*map(size_label, sizes), *([] if channels == ["text", "image"] else channels),
             *(["plain"] if any(n > args.optimize_max for n in sizes) else [])])
        setup = {"channels": ",".join(channels), "optimize_max": args.optimize_max, "seed": args.seed,
                 "queries": args.queries, "k": K, "per_channel_k": DEPTH, "faiss_threads": faiss.omp_get_max_threads()}
        if "pages" in channels:
            setup.update({"page_tokens": args.page_tokens, "query_tokens": args.query_tokens,
                          "pool_factors": args.pool_factors, "first_stage_k": args.first_stage_k,
                          "full_queries": args.full_queries})
        out = write_result("scale", label, report, compared=compared_text(sizes, channels, args.optimize_max),
                           setup=setup, machine_info=started, results_dir=args.results_dir)
        say(f"wrote {out}", args.json)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
