"""Figure captioning with a transformers image-to-text or image-text-to-text model, cached by pixel hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

from mmrag.settings import CaptionerSettings

DEFAULT_PROMPT = "Describe this figure from a document in one or two sentences: what it shows and its key values."


class Captioner:
    """Writes a short description of each image; results are cached by model, prompt and pixels.

    cache_get(key) -> str | None and cache_put(key, value) plug in any store (the index's SQLite, a dict).
    Chat models (a processor with a chat template) get the prompt; plain image-to-text models get the image only.
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        model_name: str | None = None,
        prompt: str = DEFAULT_PROMPT,
        max_new_tokens: int = 48,
        image_max_side: int = 896,
        batch_size: int = 4,
        cache_get: Callable[[str], str | None] | None = None,
        cache_put: Callable[[str, str], None] | None = None,
    ) -> None:
        self.model = model
        self.processor = processor
        self.model_name = model_name or getattr(getattr(model, "config", None), "_name_or_path", "") or "model"
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.image_max_side = image_max_side
        self.batch_size = batch_size
        self.cache_get = cache_get
        self.cache_put = cache_put
        self.chat = getattr(processor, "chat_template", None) is not None

    @classmethod
    def load(cls, model: str, device: str = "auto", **options: Any) -> Captioner:
        """Resolve and load a model by name or path; raises ModelUnavailable when its weights are not here."""
        from mmrag.models.vlm import load_vlm

        net, processor = load_vlm(model, device, role="captioner")
        return cls(net, processor, model_name=model, **options)

    @classmethod
    def from_settings(cls, settings: CaptionerSettings, **options: Any) -> Captioner | None:
        """The configured captioner, or None when no captioning model is set."""
        if not settings.model:
            return None
        return cls.load(settings.model, settings.device, max_new_tokens=settings.max_new_tokens, **options)

    def cache_key(self, image: Image.Image) -> str:
        """sha256 of the model, prompt, settings and the image's pixels."""
        h = hashlib.sha256(f"{self.model_name}|{self.prompt}|{self.max_new_tokens}|{self.image_max_side}".encode())
        h.update(f"|{image.mode}|{image.size}|".encode())
        h.update(image.tobytes())
        return h.hexdigest()

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """One caption per image, in order; cached images skip the model, duplicates are captioned once."""
        keys = [self.cache_key(im) for im in images]
        out: dict[str, str] = {}
        todo: dict[str, Image.Image] = {}
        for key, im in zip(keys, images, strict=True):
            if key in out or key in todo:
                continue
            hit = self.cache_get(key) if self.cache_get else None
            if hit is not None:
                out[key] = hit
            else:
                todo[key] = im
        pending = list(todo.items())
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            for (key, _), text in zip(batch, self._run([im for _, im in batch]), strict=True):
                out[key] = text
                if self.cache_put:
                    self.cache_put(key, text)
        return [out[k] for k in keys]

    def _prepare(self, image: Image.Image) -> Image.Image:
        img = image.convert("RGB")
        if max(img.size) > self.image_max_side:
            img.thumbnail((self.image_max_side, self.image_max_side), Image.Resampling.LANCZOS)
        return img

    def _run(self, images: list[Image.Image]) -> list[str]:
        import torch

        pixels = [self._prepare(im) for im in images]
        tokenizer = getattr(self.processor, "tokenizer", None)
        if self.chat:
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.prompt}]}]
            prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            side = getattr(tokenizer, "padding_side", None)
            if tokenizer is not None:
                tokenizer.padding_side = "left"  # decoder-only batches must end where generation starts
            try:
                inputs = self.processor(text=[prompt] * len(pixels), images=pixels, padding=True, return_tensors="pt")
            finally:
                if tokenizer is not None and side is not None:
                    tokenizer.padding_side = side
        else:
            inputs = self.processor(images=pixels, return_tensors="pt")
        inputs = inputs.to(self.model.device)
        dtype = getattr(self.model, "dtype", None)
        if "pixel_values" in inputs and dtype is not None:
            inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": False}
        if tokenizer is not None and tokenizer.pad_token_id is not None:
            kwargs["pad_token_id"] = tokenizer.pad_token_id
        with torch.inference_mode():
            out = self.model.generate(**inputs, **kwargs)
        prompt_ids = inputs.get("input_ids")
        if prompt_ids is not None and out.shape[1] >= prompt_ids.shape[1]:
            if torch.equal(out[:, : prompt_ids.shape[1]], prompt_ids.to(out.device)):
                out = out[:, prompt_ids.shape[1] :]  # decoder-only models echo the prompt
        decode = getattr(self.processor, "batch_decode", None) or tokenizer.batch_decode
        return [" ".join(t.split()) for t in decode(out, skip_special_tokens=True)]
