"""Benchmark deleting and replacing a document in the FAISS HNSW image index: tombstones against a full rebuild.

    python benchmarks/bench_faiss_delete.py                     # 100k vectors, 512-d: a few minutes on 2 cores
    python benchmarks/bench_faiss_delete.py --vectors 1000000   # ~10 GB of RAM; the rebuilds take long

Needs mmrag installed (`pip install -e .`). One FaissImageChannel (HNSW: exact_max=0) is filled through
add_vectors with `--vectors` normalised 512-d vectors drawn around cluster centres (~50 a cluster, as
bench_image_channel.py draws them), `--per-doc` to a document. Then, in the same run and on the same channel:
delete one document and replace another (new vectors, the same elements), each followed by the first search,
first with tombstones (the channel's default) and then with compact_fraction = 0, which rebuilds the graph from
the vector files on every removal as the channel did before tombstones. Recall@10 of each state against an exact
search of the live vectors shows what the tombstones cost in quality. The result goes to
benchmarks/results/faiss-delete-<date>-<label>.json (`--results-dir`, `--label`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from results import add_results_dir_option, machine, size_label, write_result
from synthetic import clustered

from mmrag.elements import Element, element_id
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.faiss_image import FaissImageChannel
from mmrag.indexes.faiss_index import HNSW_COMPACT_FRACTION, HNSW_GRAPH
from mmrag.settings import ImageChannelSettings

KINDS = ("figure", "table", "page")
K = 10


class VectorsOnly:
    """An encoder stand-in: the benchmark hands the channel vectors, never pixels or text."""

    name = "synthetic"

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def fingerprint(self) -> dict[str, Any]:
        return {"model": "synthetic", "pretrained": "none", "dim": self.dim}


def doc_elements(doc: str, n: int) -> list[Element]:
    return [Element(element_id(doc, 1 + j // 10, KINDS[j % 3], (j, 0, 1, 1)), doc, doc, 1 + j // 10, KINDS[j % 3],
                    (j, 0, 1, 1)) for j in range(n)]


def recall_at_k(channel: FaissImageChannel, queries: np.ndarray) -> float:
    """Recall@10 of the channel's search against an exact search of the vectors in its files."""
    vectors, ids = channel.vectors.all_vectors(channel.dim)
    exact = faiss.IndexFlatIP(channel.dim)
    exact.add(vectors)
    _, rows = exact.search(queries, K)
    found = []
    for q, row in zip(queries, rows):
        want = {channel.vectors.element_id(int(ids[r])) for r in row}
        found.append(len(want & {h.element_id for h in channel.search_vector(q, K)}) / len(want))
    return round(float(np.mean(found)), 4)


def timed(step: Any) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def run(n: int, per_doc: int, dim: int, n_queries: int, seed: int = 0, quiet: bool = False) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, n // 50), dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    queries = clustered(n_queries, rng, centres)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    out: dict[str, Any] = {"vectors": n, "per_doc": per_doc, "dim": dim, "docs": -(-n // per_doc),
                           "graph": HNSW_GRAPH, "compact_fraction": HNSW_COMPACT_FRACTION}
    with tempfile.TemporaryDirectory() as tmp:
        channel = FaissImageChannel.open(Path(tmp), ImageChannelSettings(exact_max=0, use_gpu="never",
                                         kinds=list(KINDS)), VectorsOnly(dim))  # type: ignore[arg-type]
        docs: dict[str, list[Element]] = {}

        def fill() -> None:
            for start in range(0, n, per_doc):
                doc = f"doc{start // per_doc:05d}.pdf"
                docs[doc] = doc_elements(doc, min(per_doc, n - start))
                channel.add_vectors(doc, docs[doc], clustered(len(docs[doc]), rng, centres))

        out["fill_s"] = round(timed(fill), 2)
        out["build_s"] = round(timed(lambda: channel.search_vector(queries[0], K)), 2)  # the first search builds
        say(f"  {n:,} vectors in {len(docs)} documents: files written in {out['fill_s']} s, HNSW built in "
            f"{out['build_s']} s, recall@10 {recall_at_k(channel, queries)}")
        names = iter(sorted(docs))
        for mode, fraction in (("tombstones", HNSW_COMPACT_FRACTION), ("rebuild", 0.0)):
            channel.compact_fraction = fraction
            r: dict[str, Any] = {}
            deleted, replaced = next(names), next(names)
            r["delete_s"] = timed(lambda d=deleted: channel.delete_docs([d]))
            r["delete_first_search_s"] = timed(lambda: channel.search_vector(queries[1], K))
            new = clustered(len(docs[replaced]), rng, centres)
            r["replace_s"] = timed(lambda d=replaced, v=new: channel.add_vectors(d, docs[d], v))
            r["replace_first_search_s"] = timed(lambda: channel.search_vector(queries[2], K))
            times = [timed(lambda q=q: channel.search_vector(q, K)) for q in queries]
            r["search_p50_ms"] = round(float(np.percentile(times, 50)) * 1000, 3)
            r["graph_vectors"], r["tombstones"] = channel.index.size, channel.index.tombstones
            r["recall@10"] = recall_at_k(channel, queries)
            # what must hold: the deleted document is gone, the replaced one is found under its new vectors
            r["deleted_found"] = len(channel.search_vector(queries[3], K, SearchFilter(docs=[deleted])))
            top = channel.search_vector(new[0], 1)[0]
            r["replaced_found"] = top.element_id == docs[replaced][0].id and top.score > 0.999
            for key in ("delete_s", "delete_first_search_s", "replace_s", "replace_first_search_s"):
                r[key] = round(r[key], 4)
            r["delete_then_search_s"] = round(r["delete_s"] + r["delete_first_search_s"], 4)
            r["replace_then_search_s"] = round(r["replace_s"] + r["replace_first_search_s"], 4)
            out[mode] = r
            say(f"  {mode:<10} delete {r['delete_s']:.4f} s + first search {r['delete_first_search_s']:.4f} s; "
                f"replace {r['replace_s']:.4f} s + first search {r['replace_first_search_s']:.4f} s; search p50 "
                f"{r['search_p50_ms']} ms, recall@10 {r['recall@10']}; graph {r['graph_vectors']:,} vectors, "
                f"{r['tombstones']} tombstones")
    for key in ("delete_then_search_s", "replace_then_search_s"):
        out[f"{key.removesuffix('_s')}_ratio"] = round(out["rebuild"][key] / max(out["tombstones"][key], 1e-9), 1)
    say(f"  rebuild / tombstones: delete + first search {out['delete_then_search_ratio']}x, replace + first "
        f"search {out['replace_then_search_ratio']}x")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000, help="vectors in the index")
    parser.add_argument("--per-doc", type=int, default=1000, help="vectors a document")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=100, help="queries for search p50 and recall@10")
    parser.add_argument("--label", default=None, help="name in the result file (default: the size, e.g. 100k)")
    add_results_dir_option(parser)
    args = parser.parse_args(argv)
    started = machine()
    print(f"FaissImageChannel (HNSW), dim {args.dim}: delete and replace one document, tombstones vs rebuild",
          flush=True)
    figures = run(args.vectors, args.per_doc, args.dim, args.queries)
    if args.results_dir:
        out = write_result(
            "faiss-delete", args.label or size_label(args.vectors), figures,
            compared=("deleting and replacing one document in the HNSW image index, then the first search: "
                      "tombstones (compaction at 20%) against a full rebuild from the vector files "
                      "(compact_fraction 0, the behaviour before tombstones), on the same channel in the same run"),
            setup={"vectors": args.vectors, "per_doc": args.per_doc, "dim": args.dim, "queries": args.queries,
                   "data": "normalised vectors around n/50 random centres"},
            machine_info=started, results_dir=args.results_dir, command=None if argv is None else
            ["benchmarks/bench_faiss_delete.py", *argv])
        print(f"wrote {out}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
