"""GPU benchmark for the pages channel (late interaction, ColQwen2 / ColPali), for a lent CUDA machine.

    python benchmarks/gpu_pages_bench.py [--model random:2b] [--pages 256] [--batch-sizes 4,8,16] [--device cuda]
    python benchmarks/gpu_pages_bench.py --model random:tiny --pages 16 --batch-sizes 2,4 --device cpu \\
        --results-dir ''                                           # a CPU smoke test: seconds, no weights

1. Page embedding throughput: our ColVisionEncoder.encode_pages (PIL page renders in; the processor prepares
   the next batch on a thread while the model runs; each page's vectors back as float32 arrays) against a bare
   loop of the same model's forward pass over the same batches, already processed and on the device (the model
   alone: the pipeline's upper bound). Same weights, same dtype (bfloat16 on a GPU unless --dtype), same batches.
2. Query encoding latency (p50/p95 of one query at a time, what `mmrag search` does).

--model: a transformers ColQwen2/ColPali folder or hub id (real weights, where the machine has them), or
`random:2b` — a randomly initialised ColQwen2 with the shapes of vidore/colqwen2-v1.0-hf (Qwen2-VL-2B, 128-d
vectors, up to 768 image tokens a page): the same arithmetic as the real model, no download — or `random:tiny`.
Pages are synthetic renders of a US-letter page at `--dpi` (72: what `ingest.page_dpi` renders by default).
Prints a table and a JSON object, and writes benchmarks/results/gpu-pages-<date>-<label>.json (`--results-dir`,
`--label`; the envelope of benchmarks/results.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from results import add_results_dir_option, machine, write_result

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def page_renders(n: int, dpi: int) -> list[Any]:
    """US-letter pages with lines of dark blocks (text-like) and a chart-like box: what page renders look like
    to the processor (size and aspect), varied so that batches are not all alike."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    w, h = int(8.5 * dpi), int(11 * dpi)
    pages = []
    for i in range(n):
        page = Image.new("RGB", (w, h), "white")
        draw = ImageDraw.Draw(page)
        y = int(0.08 * h)
        while y < 0.9 * h:
            x = int(0.1 * w)
            while x < 0.88 * w:
                word = int(rng.integers(w // 60, w // 12))
                draw.rectangle([x, y, x + word, y + max(2, h // 120)], fill=(30, 30, 30))
                x += word + w // 80
            y += h // 45 + int(rng.integers(0, h // 90))
        if i % 2:
            box = [int(0.15 * w), int(0.45 * h), int(0.8 * w), int(0.7 * h)]
            draw.rectangle(box, outline=(0, 0, 0), fill=(240, 240, 255))
            for b in range(6):
                top = box[3] - int(rng.integers(10, box[3] - box[1]))
                draw.rectangle([box[0] + 20 + b * 60, top, box[0] + 60 + b * 60, box[3]], fill=(40, 90, 200))
        pages.append(page)
    return pages


def resolve_model(name: str, workdir: Path) -> str:
    """A folder or hub id for `name`; `random:<size>` builds a random ColQwen2 and saves it under workdir."""
    if not name.startswith("random:"):
        return name
    from mmrag.models.random_colqwen2 import save_random_colqwen2

    return save_random_colqwen2(workdir / name.replace(":", "-"), name.split(":", 1)[1])


def bench_encode(encoder: Any, pages: list[Any], batch_sizes: list[int], device: str) -> list[dict[str, Any]]:
    rows = []
    for bs in batch_sizes:
        encoder.batch_size = bs
        encoder.encode_pages(pages[: bs * 2])  # warm-up: kernels, allocator, the processor's thread
        _sync(device)
        start = time.perf_counter()
        out = encoder.encode_pages(pages)
        _sync(device)
        pipeline = time.perf_counter() - start
        vectors_per_page = statistics.mean(len(v) for v in out)

        # the bare loop: the same batches, processed beforehand and already on the device
        model = encoder.model
        dtype = next(model.parameters()).dtype
        batches = []
        for i in range(0, len(pages), bs):
            inputs = encoder.page_inputs(pages[i : i + bs])
            batches.append({k: (v.to(device, dtype=dtype) if k == "pixel_values" else v.to(device))
                            for k, v in inputs.items() if hasattr(v, "to")})
        with torch.inference_mode():
            for b in batches[:2]:
                model(**b)
            _sync(device)
            start = time.perf_counter()
            for b in batches:
                model(**b)
            _sync(device)
        bare = time.perf_counter() - start
        del batches
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        rows.append({"batch_size": bs, "pages": len(pages), "pipeline_pages_s": len(pages) / pipeline,
                     "bare_pages_s": len(pages) / bare, "ratio": bare / pipeline,
                     "vectors_per_page": round(vectors_per_page, 1)})
    return rows


def bench_queries(encoder: Any, n: int, device: str) -> dict[str, float]:
    queries = [f"total revenue by region in fiscal year {2000 + i}" for i in range(n + 3)]
    for q in queries[:3]:
        encoder.encode_queries([q])
    times = []
    for q in queries[3:]:
        start = time.perf_counter()
        encoder.encode_queries([q])
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", default="random:2b", help="folder, hub id, random:2b or random:tiny")
    parser.add_argument("--dtype", default="auto", help="auto (bfloat16 on a GPU), float16, bfloat16, float32")
    parser.add_argument("--pages", type=int, default=256)
    parser.add_argument("--batch-sizes", default="4,8,16")
    parser.add_argument("--dpi", type=int, default=72)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--json", default=None, help="also write the JSON to this file")
    parser.add_argument("--label", default=None, help="name in the result file (default: model and device)")
    add_results_dir_option(parser)
    args = parser.parse_args(argv)
    started = machine()
    from mmrag.models.late_interaction import load_pages_encoder

    with tempfile.TemporaryDirectory(prefix="gpu_pages_bench_") as tmp:
        path = resolve_model(args.model, Path(tmp))
        encoder = load_pages_encoder(path, device=args.device, dtype=args.dtype)
        encoder.load_weights()
        report: dict[str, Any] = {
            "device": args.device, "model": args.model, "dtype": str(encoder.torch_dtype()).removeprefix("torch."),
            "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
            "torch": torch.__version__, "dim": encoder.dim, "dpi": args.dpi,
        }
        pages = page_renders(args.pages, args.dpi)
        print(f"encode: {args.model} ({report['dtype']}), {args.pages} pages at {args.dpi} dpi, device {args.device}",
              flush=True)
        report["encode"] = bench_encode(encoder, pages, [int(b) for b in args.batch_sizes.split(",")], args.device)
        report["query"] = bench_queries(encoder, args.queries, args.device)
        encoder.close()
    print(f"{'batch':>6} {'pipeline pages/s':>17} {'bare pages/s':>13} {'ratio':>6} {'vectors/page':>13}")
    for r in report["encode"]:
        print(f"{r['batch_size']:>6} {r['pipeline_pages_s']:>17.2f} {r['bare_pages_s']:>13.2f} {r['ratio']:>6.2f} "
              f"{r['vectors_per_page']:>13}")
    print(f"query encoding: p50 {report['query']['p50_ms']:.1f} ms, p95 {report['query']['p95_ms']:.1f} ms")
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    if args.results_dir:
        label = args.label or "-".join([args.model.replace(":", "-").replace("/", "-"), args.device.split(":")[0]])
        compared = (f"{args.model} on {args.device} ({report['dtype']}): our ColVisionEncoder.encode_pages (page "
                    "renders in, processor on a thread overlapped with the model, vectors out) against a bare "
                    f"forward loop of the same model over the same processed batches (batch sizes {args.batch_sizes});"
                    " single-query encoding latency; same run")
        out = write_result("gpu-pages", label, report, compared=compared,
                           setup={"pages": args.pages, "dpi": args.dpi, "queries": args.queries},
                           machine_info=started, results_dir=args.results_dir)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
