"""A local vision-language model through transformers: the fenced context and the hits' pixels → a cited answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from mmrag.elements import Answer, Hit
from mmrag.errors import GeneratorError, ModelUnavailable
from mmrag.generators.base import StrippedTokens, TokenCallback, VisionGenerator, context_budget
from mmrag.generators.context import SYSTEM_PROMPT, Context
from mmrag.models.vlm import load_vlm
from mmrag.settings import GeneratorSettings

log = logging.getLogger(__name__)


@dataclass
class VLMInputs:
    """Everything one generate call feeds the model; `tensors` is the processor's output."""

    context: Context
    messages: list[dict[str, Any]]
    prompt: str
    images: list[Image.Image]
    tensors: Any


class TokenStreamer:
    """A `model.generate(streamer=...)` streamer (transformers' BaseStreamer protocol: `put`, `end`) that decodes
    the new tokens incrementally and hands each new piece of text to `on_text`, synchronously, inside `generate`.

    The first `put` (the prompt) is skipped. The whole reply is decoded again at each token with `decode`, and the
    text past what was already sent goes out, so the pieces join to `decode(all new ids)`; a piece that ends in an
    incomplete UTF-8 character (U+FFFD) waits for the next token.
    """

    def __init__(self, decode: Callable[[list[int]], str], on_text: TokenCallback) -> None:
        self.decode = decode
        self.on_text = on_text
        self.ids: list[int] = []
        self.sent = 0
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if len(value.shape) > 1 and value.shape[0] > 1:
            raise GeneratorError("streaming supports one sequence at a time")
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.ids.extend(value.reshape(-1).tolist())
        self._flush(final=False)

    def end(self) -> None:
        self._flush(final=True)

    def _flush(self, final: bool) -> None:
        text = self.decode(self.ids)
        if len(text) > self.sent and (final or not text.endswith("\ufffd")):
            self.on_text(text[self.sent :])
            self.sent = len(text)


class TransformersVLMGenerator(VisionGenerator):
    """Answers with a transformers vision-language model (Qwen2-VL, Idefics, LLaVA, …) over text and pixels."""

    streams = True

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        model_name: str | None = None,
        max_images: int = 4,
        max_context_chars: int = 6000,
        max_new_tokens: int = 256,
        image_max_side: int = 896,
        generate_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.processor = processor
        self.model_name = model_name or getattr(getattr(model, "config", None), "_name_or_path", "") or "model"
        self.name = f"transformers:{self.model_name}"
        self.max_images = max_images
        self.max_context_chars = max_context_chars
        self.max_new_tokens = max_new_tokens
        self.image_max_side = image_max_side
        self.generate_kwargs = dict(generate_kwargs or {})
        if getattr(processor, "chat_template", None) is None:
            raise GeneratorError(f"{self.model_name}: the processor has no chat template; use an instruction-tuned VLM")

    @classmethod
    def load(
        cls, model_name_or_path: str, device: str = "auto", *, dtype: Any = None, **options: Any
    ) -> TransformersVLMGenerator:
        """Resolve and load a model by name or path; options are the constructor's keyword arguments."""
        model, processor = load_vlm(model_name_or_path, device, "generator", dtype)
        return cls(model, processor, model_name=model_name_or_path, **options)

    @classmethod
    def from_settings(cls, settings: GeneratorSettings) -> TransformersVLMGenerator:
        if not settings.model:
            raise ModelUnavailable("(none)", "generator", "set generator.model to a local VLM directory or hub id")
        return cls.load(
            settings.model,
            settings.device,
            **context_budget(settings),
        )

    def build_inputs(self, question: str, hits: Sequence[Hit]) -> VLMInputs:
        """The chat prompt (system rules, one image entry per picture, fenced context, question) and its tensors."""
        ctx = self.build_context(hits)
        images = [im.image for im in ctx.images]
        user = [{"type": "image"} for _ in images] + [{"type": "text", "text": ctx.user_text(question)}]
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
            {"role": "user", "content": user},
        ]
        try:
            prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception as exc:  # some templates reject a system turn: fold the rules into the user turn
            log.debug("chat template without system role (%s); folding the rules into the user turn", exc)
            user = [{"type": "image"} for _ in images]
            user.append({"type": "text", "text": SYSTEM_PROMPT + "\n\n" + ctx.user_text(question)})
            messages = [{"role": "user", "content": user}]
            prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        tensors = self.processor(text=[prompt], images=images or None, return_tensors="pt")
        return VLMInputs(ctx, messages, prompt, images, tensors)

    def _generate_ids(self, inputs: VLMInputs, **overrides: Any) -> Any:
        import torch

        tensors = inputs.tensors.to(self.model.device)
        dtype = getattr(self.model, "dtype", None)
        if "pixel_values" in tensors and dtype is not None and tensors["pixel_values"].is_floating_point():
            tensors["pixel_values"] = tensors["pixel_values"].to(dtype)
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": False}
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None and tokenizer.pad_token_id is not None:
            kwargs["pad_token_id"] = tokenizer.pad_token_id
        kwargs.update(self.generate_kwargs)
        kwargs.update(overrides)
        with torch.inference_mode():
            out = self.model.generate(**tensors, **kwargs)
        return out[:, tensors["input_ids"].shape[1] :]

    def decode(self, ids: Any) -> str:
        """The text of one sequence of generated token ids, special tokens left out (not stripped)."""
        return self.processor.batch_decode([ids], skip_special_tokens=True)[0]

    def generate(self, question: str, hits: Sequence[Hit], **generate_kwargs: Any) -> Answer:
        """Answer from the hits; keyword arguments go to `model.generate` (e.g. a streamer)."""
        inputs = self.build_inputs(question, hits)
        new_ids = self._generate_ids(inputs, **generate_kwargs)
        return self.build_answer(self.decode(new_ids[0]).strip(), inputs.context, hits)

    def stream(self, question: str, hits: Sequence[Hit], on_token: TokenCallback, **generate_kwargs: Any) -> Answer:
        """`generate` with a streamer: on_token gets each new piece of the reply as the model writes it, and the
        pieces join to the final Answer's text (leading and trailing whitespace are not sent)."""
        streamer = TokenStreamer(self.decode, StrippedTokens(on_token))
        return self.generate(question, hits, streamer=streamer, **generate_kwargs)
