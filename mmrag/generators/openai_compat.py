"""A vision model behind an OpenAI-compatible `/chat/completions` endpoint (vLLM, Ollama, LM Studio, OpenAI, …)."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from typing import Any

import requests
from PIL import Image

from mmrag.elements import Answer, Hit
from mmrag.errors import GeneratorError
from mmrag.generators.base import VisionGenerator, context_budget
from mmrag.generators.context import SYSTEM_PROMPT, Context, is_supported
from mmrag.settings import GeneratorSettings


def png_data_url(image: Image.Image) -> str:
    """The image as a `data:image/png;base64,…` URL."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAICompatibleGenerator(VisionGenerator):
    """Posts the fenced context and the hits' images to `{base_url}/chat/completions`."""

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
        text = self._complete(self.build_payload(question, ctx))
        citations = ctx.citations(text)
        return Answer(text, self.name, citations, list(hits), supported=is_supported(text, citations))

    def _complete(self, payload: dict[str, Any]) -> str:
        url = f"{self.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            resp = self.session.post(url, json=payload, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise GeneratorError(f"{url}: no reply within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            raise GeneratorError(f"cannot reach {url}: {type(exc).__name__}; is the server running?") from exc
        if resp.status_code >= 400:
            raise GeneratorError(f"{url}: HTTP {resp.status_code}: {_error_message(resp)}")
        try:
            content = resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(f"{url}: reply is not a chat completion: {resp.text[:200]!r}") from exc
        if isinstance(content, list):  # some servers answer with content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return (content or "").strip()


def _error_message(resp: requests.Response) -> str:
    try:
        err = resp.json().get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return " ".join(str(msg).split())[:300]
    except (ValueError, AttributeError):
        pass
    return " ".join(resp.text.split())[:300] or resp.reason or "error"
