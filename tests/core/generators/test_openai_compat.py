from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mmrag.errors import GeneratorError
from mmrag.generators.openai_compat import OpenAICompatibleGenerator

REPLY = "Efficiency reached 23 percent [solar.pdf p.3], see also [invented.pdf p.7]."


class ChatServer:
    """A chat/completions endpoint on 127.0.0.1 that records requests and answers with `reply` or `status`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.reply: str = REPLY
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, **body})
                server.headers.append(dict(self.headers))
                if server.status != 200:
                    payload = {"error": {"message": "model 'nope' not found"}}
                else:
                    payload = {"choices": [{"message": {"role": "assistant", "content": server.reply}}]}
                data = json.dumps(payload).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer()
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


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
