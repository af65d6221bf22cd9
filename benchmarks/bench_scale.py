"""Search at scale: build indexes of N elements, time queries per channel and fused, measure ANN recall@10.

    nice python benchmarks/bench_scale.py                          # 10k and 100k elements (minutes on 2 cores)
    nice python benchmarks/bench_scale.py --sizes 1000000 --json   # 1M: hours on 2 cores, see README

Per size N:
- text channel (Qdrant Edge, the engine `mmrag index` uses): N points with a 384-d dense vector and BM25 terms
  of real text — sentences sampled from the dev-set PDFs (`../shared/devset/pdfs`, extracted with PyMuPDF),
  1-4 per element. Build time (BM25 + upsert), hybrid query p50/p95 on plain segments, optimise (HNSW) time,
  hybrid p50/p95 after it (unfiltered, and filtered to one document's text and figures), and recall@10 of the
  HNSW dense side and of the hybrid result against the same queries run with exact dense search.
- image channel (FAISS, the channel's index types): N 512-d vectors; exact flat and HNSW (the channel's M and
  efSearch): build time, p50/p95, recall@10 of HNSW against flat.
- fused: the text hybrid (depth 50) and the image HNSW ranking (depth 50) fused with `mmrag.fusion.fuse`
  (RRF), as `mmrag search` does per query; latency of the whole.

Dense vectors are random unit vectors drawn around cluster centres (~50 per cluster), not model embeddings:
encoding 100k texts with MiniLM on two cores takes tens of minutes, and uniform random vectors have no
neighbours for an ANN index to find, so recall would mean nothing. Queries are drawn the same way; lexical
queries are 3-5 words taken from a random element's text.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from mmrag.elements import ChannelHit
from mmrag.fusion import fuse
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.qdrant_edge import EdgeTextStore
from mmrag.indexes.qdrant_store import DENSE, LEXICAL, RRF_K, SparseTerms, TextPoint

ROOT = Path(__file__).resolve().parents[1]
# ../shared/devset beside the checkout (or beside the folder of worktrees)
DEVSET = next((d for d in (ROOT.parent / "shared/devset/pdfs", ROOT.parents[1] / "shared/devset/pdfs") if d.exists()),
              ROOT.parent / "shared/devset/pdfs")
TEXT_DIM, IMAGE_DIM = 384, 512
K, DEPTH, PREFETCH_K = 10, 50, 100
# The image channel's HNSW parameters (indexes/faiss_image.py).
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 16, 40, 128
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


# ---------------------------------------------------------------------------------------------- text channel
class TextBench:
    """A Qdrant Edge shard of N elements and the queries to run on it."""

    def __init__(self, path: Path, texts: list[str], dense: np.ndarray, queries: list[tuple[np.ndarray, str]]):
        self.path = path
        self.store = EdgeTextStore(path, TEXT_DIM)
        self.bm25 = qe.Bm25()
        self.texts, self.dense = texts, dense
        self.queries = [(v.tolist(), self._terms(self.bm25.embed_query(q))) for v, q in queries]

    @staticmethod
    def _terms(v: Any) -> SparseTerms:
        return SparseTerms(list(v.indices), list(v.values))

    def build(self, batch: int = 1000) -> float:
        t0 = time.perf_counter()
        for start in range(0, len(self.texts), batch):
            points = [
                TextPoint(i, self.dense[i].tolist(), self._terms(self.bm25.embed_document(self.texts[i])), payload(i))
                for i in range(start, min(start + batch, len(self.texts)))
            ]
            self.store.upsert(points)
        self.store.flush()
        return time.perf_counter() - t0

    def hybrid(self, i: int, k: int = K, flt: SearchFilter | None = None) -> list[str]:
        dense, sparse = self.queries[i]
        return [eid for eid, _ in self.store.query(dense, sparse, k, flt, PREFETCH_K)]

    def hybrid_hits(self, i: int, k: int) -> list[ChannelHit]:
        dense, sparse = self.queries[i]
        ranked = self.store.query(dense, sparse, k, None, PREFETCH_K)
        return [ChannelHit(eid, score, r, "text") for r, (eid, score) in enumerate(ranked, start=1)]

    def _ids(self, request: qe.QueryRequest) -> list[str]:
        return [str(h.payload["element_id"]) for h in self.store.shard.query(request)]

    def dense_only(self, i: int, exact: bool) -> list[str]:
        q = qe.Query.Nearest(self.queries[i][0], using=DENSE)
        return self._ids(qe.QueryRequest(limit=K, query=q, params=qe.SearchParams(exact=exact),
                                         with_payload=["element_id"]))

    def hybrid_exact(self, i: int) -> list[str]:
        """The hybrid query with an exact dense prefetch: the reference for the HNSW hybrid's recall."""
        dense, sparse = self.queries[i]
        prefetches = [
            qe.Prefetch(limit=PREFETCH_K, query=qe.Query.Nearest(dense, using=DENSE),
                        params=qe.SearchParams(exact=True)),
            qe.Prefetch(limit=PREFETCH_K, query=qe.Query.Nearest(qe.SparseVector(sparse.indices, sparse.values),
                                                                  using=LEXICAL)),
        ]
        return self._ids(qe.QueryRequest(limit=K, query=qe.Fusion.Rrf(k=RRF_K), prefetches=prefetches,
                                         with_payload=["element_id"]))


def bench_text(tb: TextBench, n_queries: int, one_doc: SearchFilter, quiet: bool, optimize: bool) -> dict[str, Any]:
    r: dict[str, Any] = {"build_s": round(tb.build(), 2)}
    r["plain"], _ = timed(tb.hybrid, n_queries)
    r["plain_filtered"], _ = timed(lambda i: tb.hybrid(i, flt=one_doc), n_queries)
    say(f"  text  build {r['build_s']} s; hybrid on plain segments {fmt(r['plain'])}, one-doc filter "
        f"{fmt(r['plain_filtered'])}", quiet)
    if not optimize:
        r["disk_mb"] = folder_mb(tb.path)
        r["shard"] = tb.store.describe()
        say(f"  text  not optimised (--optimize-max); {r['disk_mb']} MB on disk", quiet)
        return r
    t0 = time.perf_counter()
    tb.store.optimize()
    r["optimize_s"] = round(time.perf_counter() - t0, 2)
    r["shard"] = tb.store.describe()
    r["disk_mb"] = folder_mb(tb.path)
    r["hybrid"], approx = timed(tb.hybrid, n_queries)
    r["hybrid_filtered"], _ = timed(lambda i: tb.hybrid(i, flt=one_doc), n_queries)
    exact_hybrid = [tb.hybrid_exact(i) for i in range(n_queries)]
    r["hybrid_recall@10"] = recall(approx, exact_hybrid)
    hnsw = [tb.dense_only(i, exact=False) for i in range(n_queries)]
    r["dense_exact"], exact = timed(lambda i: tb.dense_only(i, exact=True), n_queries)
    r["dense_hnsw"], _ = timed(lambda i: tb.dense_only(i, exact=False), n_queries)
    r["dense_recall@10"] = recall(hnsw, exact)
    say(f"  text  optimise {r['optimize_s']} s ({r['shard']['segments']} segments, {r['disk_mb']} MB); "
        f"hybrid {fmt(r['hybrid'])}, one-doc filter {fmt(r['hybrid_filtered'])}; recall@10 hybrid "
        f"{r['hybrid_recall@10']}, dense HNSW {r['dense_recall@10']} ({fmt(r['dense_hnsw'])} vs exact "
        f"{fmt(r['dense_exact'])})", quiet)
    return r


# ---------------------------------------------------------------------------------------------- image channel
def bench_image(vectors: np.ndarray, queries: np.ndarray, quiet: bool) -> tuple[dict[str, Any], Any]:
    n_queries = len(queries)
    r: dict[str, Any] = {}
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(IMAGE_DIM)
    flat.add(vectors)
    r["flat_build_s"] = round(time.perf_counter() - t0, 2)
    r["flat"], exact = timed(lambda i: flat.search(queries[i : i + 1], K)[1][0].tolist(), n_queries)
    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(IMAGE_DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    hnsw.add(vectors)
    r["hnsw_build_s"] = round(time.perf_counter() - t0, 2)
    r["hnsw"], approx = timed(lambda i: hnsw.search(queries[i : i + 1], K)[1][0].tolist(), n_queries)
    r["hnsw_recall@10"] = recall(approx, exact)
    say(f"  image flat {fmt(r['flat'])} (build {r['flat_build_s']} s); HNSW {fmt(r['hnsw'])} "
        f"(build {r['hnsw_build_s']} s), recall@10 {r['hnsw_recall@10']}", quiet)
    flat.reset()  # free its memory before the fused run
    return r, hnsw


def image_hits(index: Any, query: np.ndarray, k: int) -> list[ChannelHit]:
    scores, ids = index.search(query[None, :], k)
    return [ChannelHit(f"e{int(i)}", float(s), r, "image")
            for r, (s, i) in enumerate(zip(scores[0], ids[0]), start=1) if i >= 0]


# ---------------------------------------------------------------------------------------------- main
def run_size(n: int, args: argparse.Namespace, sentences: list[str], root: Path) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    prng = random.Random(args.seed)
    quiet = args.json
    t0 = time.perf_counter()
    texts = element_texts(n, sentences, prng)
    text_centres = centres_for(n, TEXT_DIM, rng)
    dense = clustered(n, TEXT_DIM, text_centres, rng)
    lexical = [" ".join(prng.sample(w, min(len(w), prng.randint(3, 5)))) for w in
               (texts[prng.randrange(n)].split() for _ in range(args.queries + 1))]
    text_queries = list(zip(clustered(args.queries + 1, TEXT_DIM, text_centres, rng), lexical))
    with_image = "image" in args.channels.split(",")
    image_vectors = image_queries = np.zeros((0, IMAGE_DIM), np.float32)
    if with_image:
        image_centres = centres_for(n, IMAGE_DIM, rng)
        image_vectors = clustered(n, IMAGE_DIM, image_centres, rng)
        image_queries = clustered(args.queries + 1, IMAGE_DIM, image_centres, rng)
    say(f"N = {n:,}: data ready in {time.perf_counter() - t0:.1f} s", quiet)
    one_doc = SearchFilter(docs=[f"doc{(n // ELEMENTS_PER_DOC) // 2:05d}.pdf"], kinds=["text", "figure"])
    tb = TextBench(root / f"edge{n}", texts, dense, text_queries)
    result: dict[str, Any] = {"elements": n}
    result["text"] = bench_text(tb, args.queries, one_doc, quiet, optimize=n <= args.optimize_max)
    del texts, dense
    if not with_image:
        result["peak_rss_mb"] = rss_mb()
        tb.store.close()
        shutil.rmtree(tb.path, ignore_errors=True)
        return result
    result["image"], hnsw = bench_image(image_vectors, image_queries, quiet)

    def fused(i: int) -> list[Any]:
        rankings = {"text": tb.hybrid_hits(i, DEPTH), "image": image_hits(hnsw, image_queries[i], DEPTH)}
        return fuse(rankings, method="rrf", rrf_k=60)[:K]

    result["fused"], _ = timed(fused, args.queries)
    result["peak_rss_mb"] = rss_mb()
    say(f"  fused (text hybrid + image HNSW, depth {DEPTH}, RRF) {fmt(result['fused'])}; "
        f"peak RSS so far {result['peak_rss_mb']} MB", quiet)
    tb.store.close()
    shutil.rmtree(tb.path, ignore_errors=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="element counts, comma-separated (1000000 supported)")
    p.add_argument("--queries", type=int, default=200, help="timed queries per size and index")
    p.add_argument("--pdfs", type=Path, default=DEVSET, help="PDFs whose text feeds BM25")
    p.add_argument("--optimize-max", type=int, default=10**9,
                   help="optimise (HNSW) and measure recall only up to this size: the build is the slow part")
    p.add_argument("--channels", default="text,image", help="text,image (fused needs both)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    args = p.parse_args(argv)
    sentences = devset_sentences(args.pdfs)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "faiss_threads": faiss.omp_get_max_threads()},
        "text_source": f"{len(sentences)} sentences from {args.pdfs}",
        "queries": args.queries,
        "sizes": {},
    }
    say(f"{len(sentences)} sentences from {args.pdfs}; {args.queries} queries per index", args.json)
    root = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    try:
        for n in (int(s) for s in args.sizes.split(",") if s):
            report["sizes"][str(n)] = run_size(n, args, sentences, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
