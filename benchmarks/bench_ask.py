"""Generator benchmark: time to first token and tokens/s of TransformersVLMGenerator vs bare model.generate.

    python benchmarks/bench_ask.py                          # tiny random Qwen2-VL on CPU, 4 images
    python benchmarks/bench_ask.py --size 2b --device cuda  # Qwen2-VL-2B shapes (random weights), bf16 on a GPU
    python benchmarks/bench_ask.py --json

Both paths get the same question, hits and tensors. The generator's time includes its own work (context building,
image loading and resizing, chat template, processor); the bare path times model.generate alone on the tensors the
generator built. The ratio generator / bare is that overhead. Weights are random, so every run is forced to write
exactly --new-tokens tokens (min_new_tokens = max_new_tokens). The byte-level test tokenizer makes text prompts
about 4x longer in tokens than Qwen's real tokenizer would.
Each run writes its result to benchmarks/results/ask-<date>-<label>.json (`--results-dir`, `--label`).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from results import add_results_dir_option, machine, write_result
from transformers import StoppingCriteria, StoppingCriteriaList

from mmrag.elements import Element, Hit, element_id
from mmrag.generators.random_qwen2vl import build_random_qwen2vl
from mmrag.generators.transformers_vlm import TransformersVLMGenerator
from mmrag.models.resolve import resolve_device

QUESTION = "How did module efficiency and installed capacity change between 2019 and 2023?"


class TokenClock(StoppingCriteria):
    """Records the time each new token lands (generate calls stopping criteria once per step); never stops."""

    def __init__(self, sync: bool) -> None:
        self.sync = sync
        self.times: list[float] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        if self.sync:
            torch.cuda.synchronize()
        self.times.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def make_hits(folder: Path, n_images: int, side: int) -> list[Hit]:
    """n_images figure/page hits with noisy chart-like PNGs, interleaved with text chunks."""
    rng = np.random.default_rng(0)
    hits = []
    for i in range(n_images):
        pixels = (rng.random((side, int(side * 1.3), 3)) * 255).astype(np.uint8)
        path = folder / f"img{i}.png"
        Image.fromarray(pixels).save(path)
        kind = "page" if i % 2 else "figure"
        bbox = (0.0, 0.0, 400.0, 300.0 + i)
        caption = f"Figure {i + 1}: Installed capacity and efficiency by year, panel {i}" if kind == "figure" else ""
        e = Element(element_id("bench", i + 1, kind, bbox), "report.pdf", "bench", i + 1, kind, bbox,
                    f"OCR text of image {i}: 2019 18% 2020 19% 2021 20% 2022 22% 2023 23%", caption)  # fmt: skip
        hits.append(Hit(e, 1.0 / (2 * i + 1), pixels_path=str(path)))
        chunk = f"Chunk {i}: module efficiency rose from 18 percent in 2019 to 23 percent in 2023. " * 3
        t = Element(element_id("bench", i + 1, "text", bbox), "report.pdf", "bench", i + 1, "text", bbox, chunk)
        hits.append(Hit(t, 1.0 / (2 * i + 2)))
    return hits


def _stats(starts: list[float], clocks: list[TokenClock], n_tokens: int) -> dict[str, float]:
    ttft = [c.times[0] - s for s, c in zip(starts, clocks, strict=True)]
    total = [c.times[-1] - s for s, c in zip(starts, clocks, strict=True)]
    decode = [(n_tokens - 1) / (c.times[-1] - c.times[0]) for c in clocks if c.times[-1] > c.times[0]]
    return {
        "ttft_s": statistics.median(ttft),
        "total_s": statistics.median(total),
        "decode_tok_s": statistics.median(decode) if decode else float("nan"),
        "end_to_end_tok_s": n_tokens / statistics.median(total),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32
    t0 = time.perf_counter()
    model, processor = build_random_qwen2vl(args.size, seed=0)
    model = model.to(device=device, dtype=dtype).eval()
    build_s = time.perf_counter() - t0
    n = args.new_tokens
    gen = TransformersVLMGenerator(
        model, processor, model_name=f"random-qwen2-vl-{args.size}", max_images=args.images,
        max_context_chars=args.context_chars, max_new_tokens=n, image_max_side=args.image_side,
        generate_kwargs={"min_new_tokens": n},
    )  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        hits = make_hits(Path(tmp), args.images, args.image_side)
        inputs = gen.build_inputs(QUESTION, hits)
        tensors = inputs.tensors.to(device)
        tensors["pixel_values"] = tensors["pixel_values"].to(dtype)
        pad = processor.tokenizer.pad_token_id

        def bare() -> tuple[float, TokenClock]:
            clock = TokenClock(cuda)
            start = time.perf_counter()
            with torch.inference_mode():
                model.generate(**tensors, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=pad,
                               stopping_criteria=StoppingCriteriaList([clock]))  # fmt: skip
            return start, clock

        def wrapped() -> tuple[float, TokenClock]:
            clock = TokenClock(cuda)
            start = time.perf_counter()
            gen.generate(QUESTION, hits, stopping_criteria=StoppingCriteriaList([clock]))
            return start, clock

        paths = {"bare": bare, "generator": wrapped}
        runs: dict[str, list[tuple[float, TokenClock]]] = {name: [] for name in paths}
        for fn in paths.values():
            fn()  # warm-up
        for _ in range(args.repeats):  # interleaved, so load from other processes hits both paths alike
            for name, fn in paths.items():
                runs[name].append(fn())
        results: dict[str, dict[str, float]] = {}
        for name, timed in runs.items():
            assert all(len(c.times) == n for _, c in timed), "generate did not write the forced number of tokens"
            results[name] = _stats([s for s, _ in timed], [c for _, c in timed], n)

    ids = tensors["input_ids"][0]
    return {
        "size": args.size,
        "device": device if not cuda else f"{device} ({torch.cuda.get_device_name()})",
        "dtype": str(dtype).replace("torch.", ""),
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "build_s": round(build_s, 2),
        "images": len(inputs.images),
        "image_side": args.image_side,
        "prompt_tokens": int(ids.numel()),
        "image_tokens": int((ids == model.config.image_token_id).sum()),
        "new_tokens": n,
        "repeats": args.repeats,
        "bare": results["bare"],
        "generator": results["generator"],
        "ratio_generator_over_bare": {
            "ttft": results["generator"]["ttft_s"] / results["bare"]["ttft_s"],
            "total": results["generator"]["total_s"] / results["bare"]["total_s"],
        },
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=["tiny", "2b"], default="tiny")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--image-side", type=int, default=448, help="images are resized to this longest side")
    p.add_argument("--context-chars", type=int, default=2000)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--label", default=None, help="name in the result file (default: size and device)")
    add_results_dir_option(p)
    args = p.parse_args(argv)
    started = machine()
    out = run(args)
    if args.results_dir:
        label = args.label or f"{args.size}-{out['device'].split(' ')[0].split(':')[0]}"
        path = write_result(
            "ask", label, out, machine_info=started, results_dir=args.results_dir,
            compared=(f"TransformersVLMGenerator.generate against a bare model.generate on the tensors the generator "
                      f"built (same question, hits and {out['images']} images), random-weight Qwen2-VL {args.size}, "
                      f"{out['new_tokens']} forced new tokens, median of {args.repeats} interleaved runs"),
            setup={"context_chars": args.context_chars})
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"Qwen2-VL {out['size']} (random weights, {out['params_m']} M params) on {out['device']}, {out['dtype']}; "
          f"{out['images']} images at {out['image_side']} px, {out['prompt_tokens']} prompt tokens "
          f"({out['image_tokens']} image), {out['new_tokens']} new tokens, median of {out['repeats']}")  # fmt: skip
    print(f"{'path':<10} {'TTFT s':>9} {'total s':>9} {'decode tok/s':>13} {'e2e tok/s':>10}")
    for name in ("bare", "generator"):
        r = out[name]
        print(f"{name:<10} {r['ttft_s']:>9.3f} {r['total_s']:>9.3f} {r['decode_tok_s']:>13.1f} "
              f"{r['end_to_end_tok_s']:>10.1f}")  # fmt: skip
    ratio = out["ratio_generator_over_bare"]
    print(f"generator / bare: TTFT x{ratio['ttft']:.2f}, total x{ratio['total']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
