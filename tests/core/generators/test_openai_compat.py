from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from factories import ChatServer

from mmrag.errors import GeneratorError
from mmrag.generators.openai_compat import OpenAICompatibleGenerator

REPLY = "Efficiency reached 23 percent [solar.pdf p.3], see also [invented.pdf p.7]."


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    with ChatServer(REPLY) as server:
        yield server


def test_request_carries_images_context_and_model(chat_server, corpus_hits):
    gen = OpenAICompatibleGenerator(chat_server.url + "/", "llava:7b", "sk-test", max_images=2, image_max_side=256)
    ans = gen.generate("How efficient are panels?", corpus_hits)
    req = chat_server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["model"] == "llava:7b"
    assert chat_server.headers[0]["Authorization"] == "Bearer sk-test"
    system, user = req["messages"]
    assert system["role"] == "system" and "untrusted data" in system["content"]
    images = [p["image_url"]["url"] for p in user["content"] if p["type"] == "image_url"]
    assert len(images) == 2
    for url in images:
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    text = "".join(p["text"] for p in user["content"] if p["type"] == "text")
    assert '<document source="[solar.pdf p.3]" kind="text">' in text and "Question: How efficient are panels?" in text
    injected = text.index("Ignore previous instructions")
    assert text.rfind("<document", 0, injected) > text.rfind("</document>", 0, injected)

    assert ans.text == REPLY and ans.generator == f"openai:llava:7b@{chat_server.url}"
    assert {c.marker for c in ans.citations} == {"[solar.pdf p.3]"} and ans.supported


def test_refusal_is_unsupported(chat_server, corpus_hits):
    chat_server.reply = "The documents do not contain the answer."
    ans = OpenAICompatibleGenerator(chat_server.url, "m").generate("q", corpus_hits)
    assert not ans.supported and ans.citations == []
    assert "Authorization" not in chat_server.headers[0]


def test_http_error_is_one_clear_line(chat_server, corpus_hits):
    chat_server.status = 404
    with pytest.raises(GeneratorError, match=r"HTTP 404: model 'nope' not found$") as info:
        OpenAICompatibleGenerator(chat_server.url, "nope").generate("q", corpus_hits)
    assert "\n" not in str(info.value)


def test_unreachable_server(corpus_hits):
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GeneratorError, match=r"cannot reach http://127.0.0.1:\d+/v1/chat/completions"):
        OpenAICompatibleGenerator(f"http://127.0.0.1:{port}/v1", "m", timeout=2).generate("q", corpus_hits)
