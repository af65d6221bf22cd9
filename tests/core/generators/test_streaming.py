"""Token streaming: `Generator.stream` hands out the answer text piece by piece and returns generate()'s Answer."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from factories import ChatServer, SSEServer, delta, force_text
from transformers import LogitsProcessor

from mmrag.errors import GeneratorError
from mmrag.generators.base import StrippedTokens
from mmrag.generators.extractive import ExtractiveGenerator
from mmrag.generators.openai_compat import OpenAICompatibleGenerator
from mmrag.generators.transformers_vlm import TransformersVLMGenerator

PIECES = ["  \n", "Efficiency", " reached 23", " percent — ", "café [solar", ".pdf p.3], see", " also [invented",
          ".pdf p.7].", " \n"]  # fmt: skip
REPLY = "".join(PIECES).strip()
EVENTS = [
    delta(role="assistant"),  # the first chunk names the role and holds no content
    ": keep-alive",
    *[delta(p) for p in PIECES],
    "event: message",
    {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 9}},  # a usage-only last chunk
    "data: [DONE]",
    f"data: {json.dumps(delta(' AFTER DONE'))}",  # nothing after [DONE] counts
]


@pytest.fixture
def sse_server() -> Iterator[SSEServer]:
    with SSEServer(list(EVENTS)) as server:
        yield server


def test_streams_flags():
    assert TransformersVLMGenerator.streams and OpenAICompatibleGenerator.streams
    assert not ExtractiveGenerator.streams


def test_stripped_tokens_join_to_the_stripped_text():
    pieces = ["  ", "\n a", "b ", " ", "c\n", "", " \t"]
    out: list[str] = []
    send = StrippedTokens(out.append)
    for p in pieces:
        send(p)
    assert "".join(out) == "".join(pieces).strip() == "ab  c"
    assert out == ["a", "b", "  c"] and all(out)


# --- extractive: the default stream -------------------------------------------------------------------------------


def test_extractive_default_sends_the_whole_text_once(corpus_hits):
    gen = ExtractiveGenerator()
    pieces: list[str] = []
    ans = gen.stream("How did panel efficiency change?", corpus_hits, pieces.append)
    assert ans == gen.generate("How did panel efficiency change?", corpus_hits)
    assert pieces == [ans.text] and ans.supported


# --- OpenAI-compatible server ----------------------------------------------------------------------------------


def test_openai_stream_parses_sse_and_gives_generates_answer(sse_server, corpus_hits):
    gen = OpenAICompatibleGenerator(sse_server.url, "llava:7b", "sk-test", max_images=2, image_max_side=256)
    pieces: list[str] = []
    ans = gen.stream("How efficient are panels?", corpus_hits, pieces.append)

    req = sse_server.requests[0]
    assert req.pop("stream") is True
    assert req == gen.build_payload("How efficient are panels?", gen.build_context(corpus_hits))
    assert "".join(pieces) == ans.text == REPLY and len(pieces) == len(PIECES) - 2  # blank first and last pieces
    assert "AFTER DONE" not in ans.text and "café" in ans.text and "—" in ans.text  # UTF-8 split across chunks

    with ChatServer(REPLY) as chat:  # the same reply, not streamed: the same Answer
        plain = OpenAICompatibleGenerator(chat.url, "llava:7b", "sk-test", max_images=2, image_max_side=256)
        expected = plain.generate("How efficient are panels?", corpus_hits)
    assert ans.citations == expected.citations and {c.marker for c in ans.citations} == {"[solar.pdf p.3]"}
    assert (ans.text, ans.supported, ans.hits) == (expected.text, expected.supported, expected.hits)
    assert ans.generator == f"openai:llava:7b@{sse_server.url}"


def test_openai_pieces_arrive_before_the_stream_ends(sse_server, corpus_hits):
    sse_server.events = [delta("First"), delta(" second [solar.pdf p.3]"), "data: [DONE]"]
    sse_server.gate = gate = threading.Event()
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        gate.set()  # the server holds the rest of the stream until the first piece is here

    ans = OpenAICompatibleGenerator(sse_server.url, "m").stream("q", corpus_hits, on_token)
    assert sse_server.gate_opened is True
    assert pieces == ["First", " second [solar.pdf p.3]"] and ans.supported


def test_openai_server_that_ignores_stream_gives_one_piece(corpus_hits):
    with ChatServer(" The documents do not contain the answer. ") as chat:
        gen = OpenAICompatibleGenerator(chat.url, "m")
        pieces: list[str] = []
        ans = gen.stream("q", corpus_hits, pieces.append)
        assert chat.requests[0]["stream"] is True
        assert ans == gen.generate("q", corpus_hits)
    assert pieces == ["The documents do not contain the answer."] and not ans.supported


@pytest.mark.parametrize("streaming", [False, True])
def test_openai_http_error_is_the_same_line_streaming_or_not(sse_server, corpus_hits, streaming):
    sse_server.status = 404
    gen = OpenAICompatibleGenerator(sse_server.url, "nope")
    with pytest.raises(GeneratorError, match=r"/v1/chat/completions: HTTP 404: model 'nope' not found$"):
        gen.stream("q", corpus_hits, lambda _: None) if streaming else gen.generate("q", corpus_hits)


def test_openai_stream_unreachable_server(corpus_hits):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAICompatibleGenerator(f"http://127.0.0.1:{port}/v1", "m", timeout=2)
    with pytest.raises(GeneratorError, match=r"cannot reach http://127.0.0.1:\d+/v1/chat/completions"):
        gen.stream("q", corpus_hits, lambda _: None)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"error": {"message": "out of\nmemory"}}, r"error in the stream: out of memory$"),
        ("data: {not json", r"stream event is not JSON: '\{not json'"),
        ("data: [1, 2]", r"stream event is not a chat completion chunk"),
    ],
)
def test_openai_stream_errors(sse_server, corpus_hits, bad, message):
    sse_server.events = [delta("Partial"), bad, "data: [DONE]"]
    pieces: list[str] = []
    with pytest.raises(GeneratorError, match=message):
        OpenAICompatibleGenerator(sse_server.url, "m").stream("q", corpus_hits, pieces.append)
    assert pieces == ["Partial"]


# --- transformers VLM ---------------------------------------------------------------------------------------------


@pytest.fixture
def generator(tiny_vlm) -> TransformersVLMGenerator:
    model, processor = tiny_vlm
    return TransformersVLMGenerator(model, processor, model_name="tiny-qwen2-vl", max_new_tokens=8, image_max_side=112)


class CountSteps(LogitsProcessor):
    """Counts decoding steps (a logits processor runs once per new token)."""

    def __init__(self) -> None:
        self.steps = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.steps += 1
        return scores


def forced_kwargs(generator: TransformersVLMGenerator, hits: list[Any], text: str) -> tuple[dict[str, Any], CountSteps]:
    """generate() keyword arguments that make the random model write `text` (one byte per token), and a step counter."""
    forced = generator.processor.tokenizer.encode(text, add_special_tokens=False)
    prompt_len = generator.build_inputs("q", hits).tensors["input_ids"].shape[1]
    counter = CountSteps()
    processors = force_text(forced, prompt_len)
    processors.append(counter)
    return {"max_new_tokens": len(forced), "logits_processor": processors}, counter


FORCED = " \n Up — 23 % [solar.pdf p.3] [fake.pdf p.1] ✓ \n"


def test_vlm_streams_token_by_token_and_returns_generates_answer(generator, corpus_hits):
    kwargs, counter = forced_kwargs(generator, corpus_hits, FORCED)
    pieces: list[tuple[str, int]] = []
    ans = generator.stream("q", corpus_hits, lambda p: pieces.append((p, counter.steps)), **kwargs)
    texts = [p for p, _ in pieces]

    assert "".join(texts) == ans.text == FORCED.strip()
    assert len(pieces) > 20 and all(texts) and not any("\ufffd" in p for p in texts)  # multi-byte chars wait whole
    assert " —" in texts and " ✓" in texts  # a space waits for the text after it
    steps = [s for _, s in pieces]
    assert steps == sorted(steps) and steps[0] < steps[-1] < counter.steps  # sent during decoding, not after
    assert ans == generator.generate("q", corpus_hits, **kwargs)
    assert {c.marker for c in ans.citations} == {"[solar.pdf p.3]"} and ans.supported


def test_vlm_free_run_stream_equals_generate(generator, corpus_hits):
    pieces: list[str] = []
    ans = generator.stream("q", corpus_hits, pieces.append)  # greedy decoding: deterministic
    assert ans == generator.generate("q", corpus_hits)
    assert "".join(pieces) == ans.text and ans.generator == "transformers:tiny-qwen2-vl"


def test_vlm_on_token_error_stops_generation(generator, corpus_hits):
    kwargs, counter = forced_kwargs(generator, corpus_hits, "abcdefghijklmnopqrstuvwxyz")

    def on_token(piece: str) -> None:
        if piece == "c":
            raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        generator.stream("q", corpus_hits, on_token, **kwargs)
    assert counter.steps < 10
