"""Benchmark the image channel: encoder throughput (pipeline vs bare model) and FAISS search (exact vs HNSW).

    python benchmarks/bench_image_channel.py                 # CPU default: a few minutes on 2 cores
    python benchmarks/bench_image_channel.py --device cuda --images 2048 --json out.json

Needs mmrag installed (`pip install -e .`): indexes/ imports as mmrag.indexes only through it.

Encoding uses a ViT-B-32 with random weights (same compute as the real one; no download needed).
Search goes through FaissImageChannel.search_vector on synthetic normalised 512-d vectors drawn around
cluster centres (uniform random vectors have no neighbourhood structure, so no ANN index can find their
"neighbours" and recall would say nothing about real embeddings); queries are drawn the same way.
Each run writes its result to benchmarks/results/image-channel-<date>-<label>.json (`--results-dir`, `--label`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from results import add_results_dir_option, machine, size_label, write_result
from synthetic import clustered

from mmrag.indexes import faiss_index
from mmrag.indexes.base import SearchFilter
from mmrag.indexes.faiss_image import FaissImageChannel
from mmrag.models.image_encoder import OpenClipEncoder
from mmrag.models.resolve import resolve_device
from mmrag.settings import ImageChannelSettings


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def synthetic_images(n: int, seed: int = 0) -> list[Image.Image]:
    """Page-crop-like images of varied sizes (PNG-decoded RGB, as the channel hands them over)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)
    out = []
    for i in range(n):
        h, w = 240 + (i * 37) % 360, 320 + (i * 53) % 480
        out.append(Image.fromarray(base[:h, :w]))
    return out


def bench_encoder(device: str, n_images: int, batch_sizes: list[int], model: str) -> list[dict[str, Any]]:
    encoder = OpenClipEncoder.load(model, "random", device=device)
    images = synthetic_images(n_images)
    rows = []
    inputs = encoder.model_inputs(images)  # the bare loop's batches: the same tensors, already on the device
    for bs in batch_sizes:
        encoder.batch_size = bs
        encoder.encode_images(images[: min(bs, n_images)])  # warm-up (kernels, threads, allocator)
        _sync(device)
        start = time.perf_counter()
        encoder.encode_images(images)
        _sync(device)
        pipeline = time.perf_counter() - start

        batches = list(inputs.split(bs))
        cuda = device.startswith("cuda")
        autocast = torch.autocast("cuda", dtype=torch.float16) if cuda else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            encoder.model.encode_image(batches[0])
            _sync(device)
            start = time.perf_counter()
            for b in batches:
                encoder.model.encode_image(b)
            _sync(device)
        bare = time.perf_counter() - start
        rows.append({
            "batch_size": bs, "images": n_images,
            "pipeline_img_s": n_images / pipeline, "bare_img_s": n_images / bare, "ratio": bare / pipeline,
        })
        print(f"  batch {bs:>4}: pipeline {n_images / pipeline:8.1f} img/s   bare model {n_images / bare:8.1f} img/s"
              f"   pipeline/bare {bare / pipeline:.2f}", flush=True)
    encoder.close()
    return rows


class VectorsOnly:
    """A stand-in encoder: search_vector needs no model, only the fingerprint and dim."""

    name, dim = "synthetic", 512

    def encode_images(self, images: Any) -> np.ndarray:
        raise NotImplementedError

    def encode_text(self, texts: Any) -> np.ndarray:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        return {"model": "synthetic", "pretrained": "none", "dim": self.dim}


def _fill(channel: FaissImageChannel, vectors: np.ndarray, per_doc: int = 1000) -> None:
    """Write per-document vector files the way add() does, without an encoder."""
    from mmrag.elements import Element, element_id

    for start in range(0, len(vectors), per_doc):
        doc = f"doc{start // per_doc:05d}.pdf"
        elements = [
            Element(element_id(doc, 1 + j // 10, ("figure", "table", "page")[j % 3], (j, 0, 1, 1)), doc, doc,
                    1 + j // 10, ("figure", "table", "page")[j % 3], (j, 0, 1, 1))
            for j in range(min(per_doc, len(vectors) - start))
        ]
        channel.add_vectors(doc, elements, vectors[start : start + len(elements)])


def _latency(channel: FaissImageChannel, queries: np.ndarray, k: int, flt: SearchFilter | None = None
             ) -> tuple[float, float, list[list[str]]]:
    times, results = [], []
    for q in queries:
        start = time.perf_counter()
        hits = channel.search_vector(q, k, flt)
        times.append(time.perf_counter() - start)
        results.append([h.element_id for h in hits])
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), results


def bench_search(sizes: list[int], n_queries: int, k: int = 10) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        # ~50 vectors per cluster at every size, so a query's top 10 are real neighbours, not near-ties
        centres = rng.standard_normal((max(1, n // 50), 512), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        queries = clustered(n_queries, rng, centres)
        vectors = clustered(n, rng, centres)
        with tempfile.TemporaryDirectory() as tmp:
            flat = FaissImageChannel.open(Path(tmp), ImageChannelSettings(exact_max=10**12, use_gpu="never"),
                                          VectorsOnly())
            _fill(flat, vectors)
            p50, p95, exact = _latency(flat, queries, k)
            rows.append({"n": n, "index": "flat (exact)", "p50_ms": p50, "p95_ms": p95, "recall@10": 1.0})
            print(f"  n={n:>7}  flat (exact)     p50 {p50:7.2f} ms  p95 {p95:7.2f} ms", flush=True)
            one_doc = SearchFilter(docs=["doc00000.pdf"], kinds=["table", "figure"])
            f50, f95, _ = _latency(flat, queries, k, SearchFilter(kinds=["table"]))
            rows.append({"n": n, "index": "flat + filter kind (1/3)", "p50_ms": f50, "p95_ms": f95})
            print(f"  n={n:>7}  flat + kind filter p50 {f50:7.2f} ms  p95 {f95:7.2f} ms", flush=True)

            start = time.perf_counter()
            hnsw = FaissImageChannel.open(Path(tmp), ImageChannelSettings(exact_max=0, use_gpu="never"),
                                          VectorsOnly())
            build = time.perf_counter() - start
            p50, p95, approx = _latency(hnsw, queries, k)
            recall = float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)]))
            rows.append({"n": n, "index": f"hnsw M={faiss_index.HNSW_M} ef={faiss_index.HNSW_EF_SEARCH}",
                         "p50_ms": p50, "p95_ms": p95, "recall@10": recall, "build_s": build})
            print(f"  n={n:>7}  hnsw             p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  recall@10 {recall:.3f}"
                  f"  (open+build {build:.1f} s)", flush=True)
            f50, f95, narrow = _latency(hnsw, queries, k, one_doc)
            _, _, narrow_exact = _latency(flat, queries, k, one_doc)
            recall = float(np.mean([len(set(a) & set(e)) / max(1, len(e)) for a, e in zip(narrow, narrow_exact)]))
            rows.append({"n": n, "index": "hnsw + filter one doc", "p50_ms": f50, "p95_ms": f95, "recall@10": recall})
            print(f"  n={n:>7}  hnsw + doc filter p50 {f50:7.2f} ms  p95 {f95:7.2f} ms  recall@10 {recall:.3f}",
                  flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--images", type=int, default=None, help="images per encode run (default 64 CPU, 2048 GPU)")
    parser.add_argument("--batch-sizes", default="8,32,64")
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--sizes", default="10000,100000", help="index sizes for the search benchmark")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-encode", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--json", nargs="?", const="-", default=None, help="write results as JSON (to a file or -)")
    parser.add_argument("--label", default=None, help="name in the result file (default: device and sizes)")
    add_results_dir_option(parser)
    args = parser.parse_args()
    started = machine()

    device = resolve_device(args.device)
    n_images = args.images or (2048 if device.startswith("cuda") else 64)
    report: dict[str, Any] = {"device": device, "torch_threads": torch.get_num_threads()}
    if not args.skip_encode:
        print(f"encode: {args.model} (random weights) on {device}, {n_images} images", flush=True)
        report["encode"] = bench_encoder(device, n_images, [int(b) for b in args.batch_sizes.split(",")], args.model)
    if not args.skip_search:
        print("search: FaissImageChannel.search_vector, dim 512, k=10, single queries (CPU FAISS)", flush=True)
        report["search"] = bench_search([int(s) for s in args.sizes.split(",")], args.queries)
    if args.results_dir and (not args.skip_encode or not args.skip_search):
        parts = []
        if not args.skip_encode:
            parts.append(f"{args.model} (random weights) on {device}: our pipeline (OpenClipEncoder.encode_images, PIL "
                         f"images in) against a bare model.encode_image loop over the same preprocessed batches, batch "
                         f"sizes {args.batch_sizes}")
        if not args.skip_search:
            parts.append(f"FaissImageChannel.search_vector at {args.sizes} vectors: HNSW against exact flat search "
                         "(recall@10 vs flat), each also with a filter")
        label = args.label or "-".join([device.split(":")[0], *([] if args.skip_search else map(
            size_label, (int(s) for s in args.sizes.split(","))))])
        out = write_result("image-channel", label, report, compared="; ".join(parts) + "; same run",
                           setup={"model": args.model, "images": n_images, "queries": args.queries},
                           machine_info=started, results_dir=args.results_dir)
        print(f"wrote {out}", file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        print(json.dumps(report, indent=1))
    elif args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
