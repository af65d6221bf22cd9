"""Rewrites of exported encoder graphs that do less work for the same vectors, cached on disk.

`cls_only(graph)`: a BERT-like encoder pooled by its first token ([CLS], as BGE is) needs every token through
all layers but the last; the last layer's queries, attention output and feed-forward block matter for the first
token only. The rewrite takes that token before them (two `Gather`s), so the last layer runs on one row per text
instead of all of them. The vectors stay the same up to INT8 noise (that layer's dynamic quantisation ranges are
taken over the first tokens alone); `benchmarks/bench_text_encoder.py` measures the time saved and the cosine.

The graph is recognised by the names Hugging Face's ONNX export gives (`/encoder/layer.N/attention/self/query/
Add_output_0`); any other graph, one whose rewrite does not give the same vectors on a probe, or a cache folder
that cannot be written leaves the graph as it is. `onnx` is imported only to build a rewrite (it takes 0.7 s).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

CLS_ONLY_VERSION = 1  # bump when the rewrite changes: cached graphs are keyed by it
PROBE_IDS = ([101, 2034, 6599, 3123, 2410, 3867, 1012, 102], [101, 1996, 2047, 3075, 102])  # two lengths
MIN_PROBE_COSINE = 0.999


def cache_dir() -> Path:
    """Where rewritten graphs are kept: $MMRAG_CACHE_DIR, else $XDG_CACHE_HOME/mmrag, else ~/.cache/mmrag."""
    explicit = os.environ.get("MMRAG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmrag"


def cls_only(graph: Path) -> Path:
    """The graph rewritten to run its last layer on the first token only (cached), or `graph` when that is not
    possible (see the module's notes). The rewritten graph's output holds the first token alone."""
    graph = Path(graph)
    try:
        stat = graph.stat()
    except OSError:
        return graph
    key = hashlib.sha256(f"{graph.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CLS_ONLY_VERSION}".encode())
    try:
        cached = cache_dir() / "onnx" / f"cls-only-{key.hexdigest()[:24]}.onnx"
    except RuntimeError:  # no home folder to cache in
        return graph
    if cached.is_file():
        return cached
    rewritten = _cls_only_bytes(graph)
    if rewritten is None or not _same_first_token(graph, rewritten):
        return graph
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(rewritten)
        os.replace(partial, cached)  # atomic: a process building the same graph at once writes the same bytes
    except OSError:
        return graph
    return cached


def _cls_only_bytes(graph: Path) -> bytes | None:
    """The serialised rewrite, or None when the graph is not a recognised BERT-like export."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(graph))
    nodes = list(model.graph.node)
    layers = {int(n) for node in nodes for n in re.findall(r"^/encoder/layer\.(\d+)/", node.name)}
    if not layers:
        return None
    prefix = f"/encoder/layer.{max(layers)}/"
    query = prefix + "attention/self/query/Add_output_0"
    residual_add = [n for n in nodes if n.name == prefix + "attention/output/Add"]
    if len(residual_add) != 1 or not any(query in n.output for n in nodes):
        return None
    outside = [i for i in residual_add[0].input if not i.startswith(prefix)]
    if len(outside) != 1:
        return None
    layer_input = outside[0]
    index = "mmrag_first_token"
    model.graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), index))
    for node in nodes:  # everything that read the queries or the residual now reads their first token
        _rename_input(node, query, query + "_first")
        if node is residual_add[0]:
            _rename_input(node, layer_input, layer_input + "_first")
    out: list[Any] = []
    for node in nodes:
        out.append(node)
        if query in node.output:
            out.append(onnx.helper.make_node("Gather", [query, index], [query + "_first"], axis=1,
                                             name=prefix + "first_token_queries"))
        if layer_input in node.output:
            out.append(onnx.helper.make_node("Gather", [layer_input, index], [layer_input + "_first"], axis=1,
                                             name=prefix + "first_token_residual"))
    del model.graph.node[:]
    model.graph.node.extend(out)
    return model.SerializeToString()


def _rename_input(node: Any, old: str, new: str) -> None:
    for i, name in enumerate(node.input):
        if name == old:
            node.input[i] = new


def _same_first_token(graph: Path, rewritten: bytes) -> bool:
    """Both graphs give the same first-token vectors (cosine >= MIN_PROBE_COSINE) on a padded probe batch."""
    import onnxruntime as ort

    try:
        whole = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
        first = ort.InferenceSession(rewritten, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - any graph onnxruntime refuses keeps the original
        return False
    length = max(len(ids) for ids in PROBE_IDS)
    ids = np.zeros((len(PROBE_IDS), length), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, text in enumerate(PROBE_IDS):
        ids[row, : len(text)], mask[row, : len(text)] = text, 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    feed = {i.name: feed[i.name] for i in whole.get_inputs() if i.name in feed}
    try:
        a = whole.run(None, feed)[0]
        b = first.run(None, feed)[0]
    except Exception:  # noqa: BLE001
        return False
    if a.ndim != 3 or b.ndim != 3 or b.shape[1] != 1:
        return False
    a, b = a[:, 0], b[:, 0]
    cosine = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return bool(cosine.min() >= MIN_PROBE_COSINE)
