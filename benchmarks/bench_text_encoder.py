"""The ONNX text encoder's two savings, each against what it replaced, on the same texts and the same thread.

    python benchmarks/bench_text_encoder.py --index idx               # texts of an index's elements
    python benchmarks/bench_text_encoder.py --texts texts.txt --json  # one text per line

- graph: the model's whole graph against the copy whose last layer computes the first token alone
  (`mmrag.models.onnx_graph.cls_only`), on the same batches; also the cosine between their vectors;
- batches: batches filled in length order (the planner before) against the planned ones
  (`mmrag.models.onnx_text._batches_by_length`), the texts taken in groups of `--group` as an index part gives them.

On a shared machine the time of one run swings by 15-25% from minute to minute, but a neighbour only ever adds
time: each batch runs once per variant per round, interleaved, and a variant's time is the sum over its batches of
their fastest round. One onnxruntime thread, as each of the encoder's parallel runs uses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from results import add_results_dir_option, machine, write_result

from mmrag.models.onnx_graph import cls_only
from mmrag.models.onnx_text import OnnxTextEncoder, _batches_by_length, onnx_file
from mmrag.models.resolve import resolve_model_path


def filled_in_order(lengths: Sequence[int], max_batch: int, max_tokens: int = 512) -> list[list[int]]:
    """The planner before: texts in length order, each batch filled until the next would pass max_tokens."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if batches and len(batches[-1]) < max_batch and (len(batches[-1]) + 1) * lengths[i] <= max_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def index_texts(index: Path, limit: int) -> list[str]:
    """What the text channel encodes of an index's chunks, tables and figures (pages left out), in document order."""
    from mmrag.settings import TextChannelSettings
    from mmrag.store import ElementStore

    header = TextChannelSettings().chunk_header
    texts = [e.searchable_text(header).strip() for e in ElementStore(index).elements() if e.kind != "page"]
    return [t for t in texts if t][:limit]


def fastest_rounds(runs: dict[str, list[Callable[[], Any]]], rounds: int) -> dict[str, float]:
    """Each variant's batches, interleaved across variants, `rounds` times; per variant the sum of each batch's
    fastest round."""
    best = {name: np.full(len(calls), np.inf) for name, calls in runs.items()}
    longest = max(len(calls) for calls in runs.values())
    for _ in range(rounds):
        for j in range(longest):
            for name, calls in runs.items():
                if j < len(calls):
                    start = time.perf_counter()
                    calls[j]()
                    best[name][j] = min(best[name][j], time.perf_counter() - start)
    return {name: float(times.sum()) for name, times in best.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--index", type=Path, help="an index folder: its elements' texts")
    source.add_argument("--texts", type=Path, help="a file of texts, one per line")
    parser.add_argument("--model", default="BAAI/bge-small-en-v1.5")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many texts")
    parser.add_argument("--max-tokens", type=int, default=384, help="tokens read of each text (text.element_tokens)")
    parser.add_argument("--group", type=int, default=50, help="texts planned together (one index part's share)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--label", default=None, help="name in the result file (default: the number of texts)")
    add_results_dir_option(parser)
    args = parser.parse_args(argv)
    started = machine()

    import onnxruntime as ort

    texts = index_texts(args.index, args.limit) if args.index else [
        line.strip() for line in args.texts.read_text().splitlines() if line.strip()][: args.limit]
    folder = resolve_model_path(args.model, role="text")
    encoder = OnnxTextEncoder(args.model, folder)
    whole = onnx_file(folder)
    first = cls_only(whole) if encoder.pooling == "cls" else whole
    encodings = encoder._tokenizer(args.max_tokens).encode_batch(texts)
    lengths = [len(e.ids) for e in encodings]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sessions = {name: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                for name, path in (("whole graph", whole), ("first-token graph", first))}

    def calls(session: Any, batches: list[list[int]]) -> list[Callable[[], Any]]:
        feeds = [encoder._feed([encodings[i] for i in batch]) for batch in batches]
        return [lambda feed=feed: session.run(None, feed) for feed in feeds]

    def cls_vectors(session: Any, batches: list[list[int]]) -> np.ndarray:
        out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        for batch in batches:
            hidden = session.run(None, encoder._feed([encodings[i] for i in batch]))[0][:, 0]
            out[batch] = hidden / np.linalg.norm(hidden, axis=1, keepdims=True)
        return out

    groups = [list(range(s, min(s + args.group, len(texts)))) for s in range(0, len(texts), args.group)]

    def plan(planner: Callable[..., list[list[int]]]) -> list[list[int]]:
        return [[g[i] for i in b] for g in groups for b in planner([lengths[i] for i in g], encoder.batch_size)]

    plans = {"filled in order": plan(filled_in_order), "planned": plan(_batches_by_length)}
    for session in sessions.values():
        session.run(None, encoder._feed(encodings[:1]))  # first-run costs out of the timings
    graph_times = fastest_rounds({n: calls(s, plans["planned"]) for n, s in sessions.items()}, args.rounds)
    plan_times = fastest_rounds({n: calls(sessions["first-token graph"], b) for n, b in plans.items()}, args.rounds)
    a, b = (cls_vectors(s, plans["planned"]) for s in sessions.values())
    cosine = (a * b).sum(axis=1)
    real = sum(lengths)
    report = {
        "model": args.model, "texts": len(texts), "tokens": real, "rounds": args.rounds, "group": args.group,
        "graph": {"seconds": graph_times, "ratio": graph_times["first-token graph"] / graph_times["whole graph"],
                  "rewritten": first != whole, "cosine_min": float(cosine.min()),
                  "cosine_mean": float(cosine.mean())},
        "batches": {name: {"calls": len(batches), "seconds": plan_times[name],
                           "padding": sum(len(x) * max(lengths[i] for i in x) for x in batches) / real - 1}
                    for name, batches in plans.items()},
    }
    report["batches"]["ratio"] = plan_times["planned"] / plan_times["filled in order"]
    out = None
    if args.results_dir:
        out = write_result(
            "text-encoder", args.label or f"{len(texts)}-texts", report,
            compared=("the whole ONNX graph against the first-token graph on the same batches, and batches filled in "
                      "length order against planned ones on the first-token graph; one onnxruntime thread, each "
                      "batch's fastest of the interleaved rounds"),
            setup={"model": args.model, "source": str(args.index or args.texts), "max_tokens": args.max_tokens},
            machine_info=started, results_dir=args.results_dir,
            command=None if argv is None else ["benchmarks/bench_text_encoder.py", *argv])
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.model}: {len(texts)} texts, {real:,} tokens, 1 thread, each batch's fastest of {args.rounds} rounds")
    for name, seconds in graph_times.items():
        print(f"  {name:20s} {seconds:8.2f} s  {real / seconds:8.0f} tokens/s")
    print(f"  first-token / whole: {report['graph']['ratio']:.3f}; vectors' cosine min {cosine.min():.5f}"
          + ("" if first != whole else " (no rewrite: this graph is not recognised)"))
    for name in plans:
        row = report["batches"][name]
        print(f"  {name:20s} {row['seconds']:8.2f} s  {row['calls']} calls, padding {row['padding']:.1%}")
    print(f"  planned / filled in order: {report['batches']['ratio']:.3f}")
    if out:
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
