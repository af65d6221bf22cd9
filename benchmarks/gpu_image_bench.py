"""GPU benchmark for the image channel, for a lent CUDA machine with torch + open_clip and no faiss.

    python benchmarks/gpu_image_bench.py [--images 4096] [--batch-sizes 64,128,256] [--sizes 100000,1000000]
                                         [--json out.json] [--device cuda]

1. Image embedding throughput of a ViT-B-32 with random weights: our OpenClipEncoder.encode_images (PIL
   images in, preprocessing on CPU threads overlapped with the model) vs a bare model.encode_image loop over
   the same batches already preprocessed and on the GPU (the model alone: the pipeline's upper bound).
2. Brute-force top-10 search (what a flat GPU index does): torch fp16 matmul + topk on the GPU vs numpy
   float32 matmul + argpartition on the CPU, at 100k and 1M normalised 512-d vectors; single queries and
   batches of 64.
Prints a table and a JSON object, and writes benchmarks/results/gpu-image-<date>-<label>.json (`--results-dir`,
`--label`; the envelope of benchmarks/results.py). faiss is deliberately not imported (the machine has none).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from results import add_results_dir_option, machine, size_label, write_result

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _images(n: int) -> list[Any]:
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)
    return [Image.fromarray(base[: 240 + (i * 37) % 360, : 320 + (i * 53) % 480]) for i in range(n)]


def bench_encode(device: str, n_images: int, batch_sizes: list[int], model: str) -> list[dict[str, Any]]:
    from mmrag.models.image_encoder import OpenClipEncoder

    encoder = OpenClipEncoder.load(model, "random", device=device)
    images = _images(n_images)
    rows = []
    inputs = encoder.model_inputs(images)  # the bare loop's batches: the same tensors, already on the device
    for bs in batch_sizes:
        encoder.batch_size = bs
        encoder.encode_images(images[: bs * 2])  # warm-up: cudnn/cublas, pinned allocator, threads
        _sync(device)
        start = time.perf_counter()
        encoder.encode_images(images)
        _sync(device)
        pipeline = time.perf_counter() - start

        batches = list(inputs.split(bs))
        cuda = device.startswith("cuda")
        autocast = torch.autocast("cuda", dtype=torch.float16) if cuda else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            for b in batches[:2]:
                encoder.model.encode_image(b)
            _sync(device)
            start = time.perf_counter()
            for b in batches:
                encoder.model.encode_image(b)
            _sync(device)
        bare = time.perf_counter() - start
        del batches
        rows.append({"batch_size": bs, "images": n_images, "pipeline_img_s": n_images / pipeline,
                     "bare_img_s": n_images / bare, "ratio": bare / pipeline})
    encoder.close()
    return rows


def _percentiles(times: list[float]) -> tuple[float, float]:
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def bench_search(device: str, sizes: list[int], n_queries: int, k: int = 10, batch: int = 64) -> list[dict[str, Any]]:
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        x = rng.standard_normal((n, 512), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        q = x[rng.integers(0, n, n_queries)] + 0.05 * rng.standard_normal((n_queries, 512), dtype=np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)

        # CPU numpy baseline
        times = []
        cpu_top = []
        for v in q:
            start = time.perf_counter()
            s = x @ v
            top = np.argpartition(-s, k)[:k]
            top = top[np.argsort(-s[top])]
            times.append(time.perf_counter() - start)
            cpu_top.append(top)
        p50, p95 = _percentiles(times)
        start = time.perf_counter()
        for i in range(0, n_queries, batch):
            s = q[i : i + batch] @ x.T
            np.argpartition(-s, k, axis=1)[:, :k]
        cpu_batch_qps = n_queries / (time.perf_counter() - start)
        rows.append({"n": n, "engine": "cpu numpy fp32", "p50_ms": p50, "p95_ms": p95, "batch64_qps": cpu_batch_qps})

        if device.startswith("cuda"):
            xg = torch.from_numpy(x).to(device, torch.float16)
            qg = torch.from_numpy(q).to(device, torch.float16)
            for _ in range(5):
                torch.topk(xg @ qg[0], k)
            _sync(device)
            times = []
            agree = 0
            for i in range(n_queries):
                start = time.perf_counter()
                scores, idx = torch.topk(xg @ qg[i], k)
                idx = idx.cpu()  # includes the sync and the copy a caller needs
                times.append(time.perf_counter() - start)
                agree += len(set(idx.tolist()) & set(cpu_top[i].tolist()))
            p50, p95 = _percentiles(times)
            _sync(device)
            start = time.perf_counter()
            for i in range(0, n_queries, batch):
                torch.topk(qg[i : i + batch] @ xg.T, k, dim=1).indices.cpu()
            gpu_batch_qps = n_queries / (time.perf_counter() - start)
            rows.append({"n": n, "engine": "gpu torch fp16", "p50_ms": p50, "p95_ms": p95,
                         "batch64_qps": gpu_batch_qps, "recall@10_vs_fp32": agree / (k * n_queries)})
            del xg, qg
            torch.cuda.empty_cache()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch-sizes", default="64,128,256")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", default=None, help="also write the JSON to this file")
    parser.add_argument("--label", default=None, help="name in the result file (default: device and sizes)")
    add_results_dir_option(parser)
    args = parser.parse_args()
    started = machine()

    report: dict[str, Any] = {
        "device": args.device,
        "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
        "torch": torch.__version__, "cpu_cores": os.cpu_count(),
    }
    print(f"encode: {args.model} random weights, {args.images} images, device {args.device}", flush=True)
    report["encode"] = bench_encode(args.device, args.images, [int(b) for b in args.batch_sizes.split(",")],
                                    args.model)
    print(f"{'batch':>6} {'pipeline img/s':>15} {'bare img/s':>11} {'ratio':>6}")
    for r in report["encode"]:
        print(f"{r['batch_size']:>6} {r['pipeline_img_s']:>15.0f} {r['bare_img_s']:>11.0f} {r['ratio']:>6.2f}")
    print("search: brute force top-10, dim 512", flush=True)
    report["search"] = bench_search(args.device, [int(s) for s in args.sizes.split(",")], args.queries)
    print(f"{'n':>8} {'engine':>16} {'p50 ms':>8} {'p95 ms':>8} {'batch64 q/s':>12}")
    for r in report["search"]:
        print(f"{r['n']:>8} {r['engine']:>16} {r['p50_ms']:>8.3f} {r['p95_ms']:>8.3f} {r['batch64_qps']:>12.0f}")
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    if args.results_dir:
        sizes = [int(s) for s in args.sizes.split(",")]
        label = args.label or "-".join([args.device.split(":")[0], *map(size_label, sizes)])
        compared = (f"{args.model} (random weights) on {args.device}: our OpenClipEncoder.encode_images against a bare "
                    f"model.encode_image loop over the same preprocessed batches (batch sizes {args.batch_sizes}); "
                    f"brute-force top-10 search at {', '.join(f'{n:,}' for n in sizes)} vectors: torch fp16 on the GPU "
                    "against numpy fp32 on the CPU (recall@10 vs fp32), single queries and batches of 64; same run")
        out = write_result("gpu-image", label, report, compared=compared,
                           setup={"images": args.images, "queries": args.queries}, machine_info=started,
                           results_dir=args.results_dir)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
