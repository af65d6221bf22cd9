"""A vision model behind an OpenAI-compatible `/chat/completions` endpoint (vLLM, Ollama, LM Studio, OpenAI, …)."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import requests
from PIL import Image

from mmrag.elements import Answer, Hit
from mmrag.errors import GeneratorError
from mmrag.generators.base import StrippedTokens, TokenCallback, VisionGenerator, context_budget
from mmrag.generators.context import SYSTEM_PROMPT, Context
from mmrag.settings import GeneratorSettings


def png_data_url(image: Image.Image) -> str:
    """The image as a `data:image/png;base64,…` URL."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAICompatibleGenerator(VisionGenerator):
    """Posts the fenced context and the hits' images to `{base_url}/chat/completions`."""

    streams = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        max_images: int = 4,
        max_context_chars: int = 6000,
        max_new_tokens: int = 256,
        image_max_side: int = 896,
        timeout: float = 120.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.max_images = max_images
        self.max_context_chars = max_context_chars
        self.max_new_tokens = max_new_tokens
        self.image_max_side = image_max_side
        self.timeout = timeout
        self.session = session or requests.Session()
        self.name = f"openai:{model}@{self.base_url}"

    @classmethod
    def from_settings(cls, settings: GeneratorSettings, base_url: str | None = None) -> OpenAICompatibleGenerator:
        url = base_url or settings.base_url
        if not url:
            raise GeneratorError("the openai backend needs generator.base_url (or MMRAG_OPENAI_BASE_URL)")
        if not settings.model:
            raise GeneratorError(f"the openai backend at {url} needs generator.model (the served model's name)")
        return cls(
            url,
            settings.model,
            os.environ.get(settings.api_key_env) or None,
            **context_budget(settings),
        )

    def build_payload(self, question: str, ctx: Context) -> dict[str, Any]:
        """The chat/completions request body: system rules, then images and the fenced context as content parts."""
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": png_data_url(im.image)}} for im in ctx.images
        ]
        parts.append({"type": "text", "text": ctx.user_text(question)})
        return {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": parts}],
            "max_tokens": self.max_new_tokens,
            "temperature": 0,
        }

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        ctx = self.build_context(hits)
        resp, url = self._post(self.build_payload(question, ctx))
        return self.build_answer(_completion_text(resp, url), ctx, hits)

    def stream(self, question: str, hits: Sequence[Hit], on_token: TokenCallback) -> Answer:
        """`generate` with `"stream": true`: on_token gets each `delta.content` of the server-sent events as it
        arrives, and the pieces join to the final Answer's text (leading and trailing whitespace are not sent).
        A server that ignores `stream` and answers with one JSON completion gives one piece."""
        ctx = self.build_context(hits)
        send = StrippedTokens(on_token)
        resp, url = self._post({**self.build_payload(question, ctx), "stream": True}, stream=True)
        with resp:
            if "application/json" in resp.headers.get("Content-Type", ""):  # the server ignored `stream`
                text = _completion_text(resp, url)
                send(text)
            else:
                pieces = []
                for piece in _stream_deltas(resp, url):
                    pieces.append(piece)
                    send(piece)
                text = "".join(pieces).strip()
        return self.build_answer(text, ctx, hits)

    def _post(self, payload: dict[str, Any], stream: bool = False) -> tuple[requests.Response, str]:
        """POST the payload to chat/completions: the response (status < 400) and the URL, or a GeneratorError."""
        url = f"{self.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            resp = self.session.post(url, json=payload, headers=headers, timeout=self.timeout, stream=stream)
        except requests.Timeout as exc:
            raise GeneratorError(f"{url}: no reply within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            raise GeneratorError(f"cannot reach {url}: {type(exc).__name__}; is the server running?") from exc
        if resp.status_code >= 400:
            with resp:
                raise GeneratorError(f"{url}: HTTP {resp.status_code}: {_error_message(resp)}")
        return resp, url


def _content_text(content: Any) -> str:
    """A message's (or delta's) content as text; some servers answer with a list of content parts."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _completion_text(resp: requests.Response, url: str) -> str:
    """The stripped message content of a (non-streaming) chat completion."""
    try:
        content = resp.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GeneratorError(f"{url}: reply is not a chat completion: {resp.text[:200]!r}") from exc
    return _content_text(content).strip()


def _stream_deltas(resp: requests.Response, url: str) -> Iterator[str]:
    """The `choices[0].delta.content` pieces of a server-sent chat completion stream, up to `data: [DONE]`."""
    try:
        for raw in resp.iter_lines():
            line = raw.decode("utf-8", errors="replace")
            if not line.startswith("data:"):  # blank separators, `: keep-alive` comments, `event:` / `id:` fields
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except ValueError as exc:
                raise GeneratorError(f"{url}: stream event is not JSON: {data[:200]!r}") from exc
            if not isinstance(chunk, dict):
                raise GeneratorError(f"{url}: stream event is not a chat completion chunk: {data[:200]!r}")
            if chunk.get("error"):
                raise GeneratorError(f"{url}: error in the stream: {_error_text(chunk['error'])}")
            choices = chunk.get("choices") or [{}]  # a last chunk may carry only `usage`
            delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
            piece = _content_text(delta.get("content")) if isinstance(delta, dict) else ""
            if piece:
                yield piece
    except requests.RequestException as exc:
        raise GeneratorError(f"{url}: the stream broke off: {type(exc).__name__}") from exc


def _error_text(err: Any) -> str:
    """One line of at most 300 characters from an `error` field: its message, or the field itself."""
    msg = err.get("message") if isinstance(err, dict) else err
    return " ".join(str(msg).split())[:300] if msg else ""


def _error_message(resp: requests.Response) -> str:
    try:
        msg = _error_text(resp.json().get("error"))
        if msg:
            return msg
    except (ValueError, AttributeError):
        pass
    return " ".join(resp.text.split())[:300] or resp.reason or "error"
