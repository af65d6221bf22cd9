"""Text channel benchmark: MiniLM encode throughput, and search latency on Qdrant Edge vs qdrant-client local.

    python benchmarks/bench_text_channel.py                 # encode at batch 16/64/128; search at 10k and 100k
    python benchmarks/bench_text_channel.py --sizes 10000 --json

Search uses synthetic points: real BM25 terms of synthetic text (Zipf-distributed words), and random unit vectors
for the 384-d dense part (encoding 100k texts with MiniLM on a CPU takes tens of minutes; HNSW latency does not
depend on where the vectors came from, random vectors are if anything a harder case). Searches run through
`QdrantTextChannel.search_all`, as the query path does: one Qdrant query per side (dense, BM25) from one encoded
query, fused in our code by `mmrag.fusion.fuse` with the default query settings; each side alone is timed too.
qdrant-client's local mode is the baseline (the ratio is local / Edge); it is slow, so it runs at the smaller sizes.
Each run writes its result to benchmarks/results/text-channel-<date>-<label>.json (`--results-dir`, `--label`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe
from results import add_results_dir_option, machine, size_label, write_result

from mmrag.fusion import fuse
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.qdrant_edge import EdgeTextStore
from mmrag.indexes.qdrant_server import ServerTextStore
from mmrag.indexes.qdrant_store import SparseTerms, TextPoint, TextStore
from mmrag.indexes.qdrant_text import QdrantTextChannel, TextQuery
from mmrag.pipelines.query import channel_weight
from mmrag.settings import QuerySettings

DIM = 384
VOCAB = 20_000
QUERY = QuerySettings()


class GivenVectors:
    """Stands in for the text model: queries come with their vectors."""

    name, dim = "bench-random-384", DIM

    def encode_query(self, text: str) -> np.ndarray:
        raise AssertionError("queries come encoded")


def synthetic_texts(n: int, rng: np.random.Generator) -> list[str]:
    """Chunk-like texts: 40-160 Zipf-distributed pseudo-words, now and then a part code."""
    words = np.array([f"w{i}" for i in range(VOCAB)])
    lengths = rng.integers(40, 160, size=n)
    ranks = np.minimum(rng.zipf(1.2, size=int(lengths.sum())), VOCAB) - 1
    texts, start = [], 0
    for i, length in enumerate(lengths):
        text = " ".join(words[ranks[start : start + length]])
        start += length
        if i % 50 == 0:
            text += f" part ZX-{i:06d}"
        texts.append(text)
    return texts


def unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_encode(n: int, batch_sizes: Sequence[int], rng: np.random.Generator) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mmrag.models.text_encoder import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    prose = "the cache answers repeated reads from memory while cold reads go to disk and take longer".split()
    # Real words (MiniLM tokenises pseudo-words into many pieces), ~60-120 words, like a chunk of 1200 characters.
    texts = [" ".join(rng.choice(prose, size=int(rng.integers(60, 120)))) for _ in range(n)]
    encoder.encode_documents(texts[:32], batch_size=32)  # warm-up
    by_batch = {}
    for bs in batch_sizes:
        t0 = time.perf_counter()
        encoder.encode_documents(texts, batch_size=bs)
        by_batch[str(bs)] = round(n / (time.perf_counter() - t0), 1)
    t0 = time.perf_counter()
    for t in texts[:50]:
        encoder.encode_query(t[:60])
    query_ms = (time.perf_counter() - t0) / 50 * 1000
    import torch

    return {"texts": n, "torch_threads": torch.get_num_threads(), "elements_per_s": by_batch,
            "query_encode_ms": round(query_ms, 2)}


def build(store: TextStore, texts: list[str], dense: np.ndarray, batch: int = 1000) -> float:
    bm25 = qe.Bm25()
    t0 = time.perf_counter()
    for start in range(0, len(texts), batch):
        points = []
        for i in range(start, min(start + batch, len(texts))):
            v = bm25.embed_document(texts[i])
            payload = {"element_id": f"e{i}", "doc": f"doc{i // 200}.pdf", "page": (i % 200) // 10 + 1,
                       "kind": ("text", "text", "figure", "table", "page")[i % 5]}
            points.append(TextPoint(i, dense[i].tolist(), SparseTerms(list(v.indices), list(v.values)), payload))
        store.upsert(points)
    return time.perf_counter() - t0


def fmt(t: dict[str, float]) -> str:
    return f"p50 {t['p50_ms']} ms p95 {t['p95_ms']} ms"


def timed_queries(run: Callable[[int], object], n: int) -> dict[str, float]:
    run(0)  # warm-up
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(percentile(times, 95), 3), "n": n}


def bench_store(
    store: TextStore, size: int, n_queries: int, rng: np.random.Generator, optimize: bool = False
) -> dict[str, Any]:
    texts = synthetic_texts(size, rng)
    dense = unit_vectors(size, rng)
    result: dict[str, Any] = {"points": size, "build_s": round(build(store, texts, dense), 2)}
    bm25 = qe.Bm25()
    q_dense = unit_vectors(n_queries + 1, rng)
    q_sparse = []
    for _ in range(n_queries + 1):
        words = texts[int(rng.integers(size))].split()
        picked = " ".join(rng.choice(words, size=min(4, len(words)), replace=False))
        v = bm25.embed_query(picked)
        q_sparse.append(SparseTerms(list(v.indices), list(v.values)))
    one_doc = SearchFilter(docs=[f"doc{size // 400}.pdf"], kinds=["text", "figure"])
    channel = QdrantTextChannel(store, GivenVectors())  # type: ignore[arg-type]
    queries = [TextQuery("", q_dense[i].tolist(), q_sparse[i]) for i in range(n_queries + 1)]
    weights = {name: channel_weight(QUERY.weights, name) for name in ("text:dense", "text:lexical")}

    def side(name: str) -> Callable[[int], object]:
        def run(i: int) -> object:
            q = queries[i]
            one = TextQuery("", q.dense if name == "dense" else None, q.sparse if name == "lexical" else None)
            return channel.search_all(one, QUERY.k)
        return run

    def fused(i: int, flt: SearchFilter | None = None) -> list[object]:
        sides = channel.search_all(queries[i], QUERY.per_channel_k, flt)
        return fuse(sides, method=QUERY.fusion, weights=weights, rrf_k=QUERY.rrf_k)[: QUERY.k]

    def filtered(i: int) -> object:
        return fused(i, one_doc)

    def timings(suffix: str = "") -> None:
        result["dense" + suffix] = timed_queries(side("dense"), n_queries)
        result["lexical" + suffix] = timed_queries(side("lexical"), n_queries)
        result["fused" + suffix] = timed_queries(fused, n_queries)
        result["fused_filtered" + suffix] = timed_queries(filtered, n_queries)

    timings()
    assert len(fused(0, one_doc)) > 0
    if isinstance(store, EdgeTextStore):
        # Before optimize() the shard's segments are plain (exhaustive search); optimize() builds HNSW.
        result["segments"] = "plain"
        if optimize:
            t0 = time.perf_counter()
            store.optimize()
            result["optimize_s"] = round(time.perf_counter() - t0, 2)
            result["plain_points"] = store.describe()["plain_points"]
            timings("_optimized")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="Edge index sizes (points), comma-separated")
    p.add_argument("--local-sizes", default="10000", help="qdrant-client local-mode sizes (baseline); '' for none")
    p.add_argument("--queries", type=int, default=200, help="timed queries per Edge size")
    p.add_argument("--local-queries", type=int, default=30, help="timed queries per local-mode size")
    p.add_argument("--encode-texts", type=int, default=128, help="texts per encode batch-size run; 0 skips encoding")
    p.add_argument("--batch-sizes", default="16,64,128")
    p.add_argument("--torch-threads", type=int, default=0,
                   help="torch.set_num_threads for encoding (0: torch's default, one per core)")
    p.add_argument("--optimize-max", type=int, default=20_000,
                   help="also time Edge after optimize() (HNSW build) up to this size; minutes at 100k on 2 cores")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    p.add_argument("--label", default=None, help="name in the result file (default: the Edge sizes)")
    add_results_dir_option(p)
    args = p.parse_args(argv)
    started = machine()
    rng = np.random.default_rng(args.seed)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    local_sizes = [int(s) for s in args.local_sizes.split(",") if s]
    def say(line: str) -> None:  # with --json, progress goes to stderr and stdout stays one JSON object
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    report: dict[str, Any] = {"dense_vectors": "random unit vectors (384-d) for search; BM25 on synthetic text"}
    if args.encode_texts:
        if args.torch_threads:
            import torch

            torch.set_num_threads(args.torch_threads)
        enc = bench_encode(args.encode_texts, [int(b) for b in args.batch_sizes.split(",")], rng)
        report["encode"] = enc
        say(f"MiniLM encode (CPU, {enc['torch_threads']} torch threads, {enc['texts']} texts of 60-120 words):")
        for bs, rate in enc["elements_per_s"].items():
            say(f"  batch {bs:>4}: {rate:8.1f} elements/s")
        say(f"  one query: {enc['query_encode_ms']} ms")
    report["edge"], report["local"] = {}, {}
    root = Path(tempfile.mkdtemp(prefix="bench_text_"))
    try:
        for size in sizes:
            store = EdgeTextStore(root / f"edge{size}", DIM)
            r = bench_store(store, size, args.queries, rng, optimize=size <= args.optimize_max)
            store.close()
            report["edge"][str(size)] = r
            say(f"Edge   {size:>7} points: build {r['build_s']} s; plain segments: dense {fmt(r['dense'])}, "
                f"lexical {fmt(r['lexical'])}, fused {fmt(r['fused'])}, filtered {fmt(r['fused_filtered'])}")
            if "optimize_s" in r:
                say(f"       after optimize ({r['optimize_s']} s): dense {fmt(r['dense_optimized'])}, "
                    f"fused {fmt(r['fused_optimized'])}, filtered {fmt(r['fused_filtered_optimized'])}")
        for size in local_sizes:
            store = ServerTextStore.local(":memory:", "bench", DIM)
            r = bench_store(store, size, args.local_queries, rng)
            store.close()
            edge = report["edge"].get(str(size))
            if edge:
                r["p50_ratio_local_over_edge"] = round(r["fused"]["p50_ms"] / max(edge["fused"]["p50_ms"], 1e-6), 1)
            report["local"][str(size)] = r
            ratio = f" ({r['p50_ratio_local_over_edge']}x Edge)" if edge else ""
            say(f"local  {size:>7} points: build {r['build_s']} s; fused {fmt(r['fused'])}{ratio}, "
                f"filtered {fmt(r['fused_filtered'])}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.results_dir:
        compared = (f"Qdrant Edge at {', '.join(f'{n:,}' for n in sizes)} points: each side alone, fused as the query "
                    f"path fuses (unfiltered and one-doc filtered), on plain segments"
                    + (f" and after optimise up to {args.optimize_max:,} points" if any(
                        n <= args.optimize_max for n in sizes) else "")
                    + (f"; qdrant-client local mode at {', '.join(f'{n:,}' for n in local_sizes)} points as the "
                       "baseline (ratio local / Edge), same run" if local_sizes else ""))
        if args.encode_texts:
            compared += f"; MiniLM encode throughput at batch sizes {args.batch_sizes}"
        setup = {"queries": args.queries, "local_queries": args.local_queries, "optimize_max": args.optimize_max,
                 "seed": args.seed}
        out = write_result("text-channel", args.label or "-".join(map(size_label, sizes)), report, compared=compared,
                           setup=setup, machine_info=started, results_dir=args.results_dir)
        say(f"wrote {out}")
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
