"""Answer generators: a local VLM (transformers), an OpenAI-compatible server, or model-free extraction.

May import mmrag.models (VLM loading) and the base modules (elements, settings, errors); never indexes, eval
or the pipelines.
"""

from __future__ import annotations

import logging
import os

from mmrag.errors import GeneratorError, ModelUnavailable
from mmrag.generators.base import Generator
from mmrag.generators.extractive import ExtractiveGenerator
from mmrag.settings import GeneratorSettings

log = logging.getLogger(__name__)

BASE_URL_ENV = ("MMRAG_OPENAI_BASE_URL", "OPENAI_BASE_URL")
BACKENDS = ("auto", "transformers", "openai", "extractive")

HOW_TO_ENABLE_VLM = """\
No generative model is configured, so answers are extracted passages. For written answers, either
  - serve a vision model with an OpenAI-compatible API (vLLM, Ollama, llama.cpp, …), e.g.
      ollama pull llama3.2-vision
      mmrag ask "…" --base-url http://localhost:11434/v1 --model llama3.2-vision
    (or set generator.base_url / MMRAG_OPENAI_BASE_URL and generator.model in settings)
  - or point at a local transformers VLM (a directory, or a hub id already in the HF cache), e.g.
      huggingface-cli download Qwen/Qwen2-VL-2B-Instruct
      mmrag ask "…" --model Qwen/Qwen2-VL-2B-Instruct   (a GPU is advised)"""

__all__ = ["BACKENDS", "HOW_TO_ENABLE_VLM", "ExtractiveGenerator", "Generator", "create_generator", "openai_base_url"]


def openai_base_url(settings: GeneratorSettings) -> str | None:
    """The OpenAI-compatible server configured in settings or the environment, if any."""
    if settings.base_url:
        return settings.base_url
    return next((os.environ[k] for k in BASE_URL_ENV if os.environ.get(k)), None)


def create_generator(settings: GeneratorSettings) -> Generator:
    """The generator the settings ask for; its `name` says which backend and model it is.

    auto: the OpenAI-compatible server when a base URL and model are configured, else the transformers model
    when `settings.model` resolves locally, else extractive. An explicit backend that cannot be used raises
    ModelUnavailable or GeneratorError.
    """
    backend = settings.backend
    if backend not in BACKENDS:
        raise GeneratorError(f"unknown generator backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "extractive":
        return ExtractiveGenerator(max_context_chars=settings.max_context_chars)
    if backend == "openai":
        from mmrag.generators.openai_compat import OpenAICompatibleGenerator

        return OpenAICompatibleGenerator.from_settings(settings, openai_base_url(settings))
    if backend == "transformers":
        from mmrag.generators.transformers_vlm import TransformersVLMGenerator

        return TransformersVLMGenerator.from_settings(settings)

    url = openai_base_url(settings)
    if url and settings.model:
        from mmrag.generators.openai_compat import OpenAICompatibleGenerator

        return OpenAICompatibleGenerator.from_settings(settings, url)
    if url:
        log.warning("an OpenAI-compatible base URL (%s) is set but generator.model is not; not using it", url)
    if settings.model:
        from mmrag.generators.transformers_vlm import TransformersVLMGenerator

        try:
            return TransformersVLMGenerator.from_settings(settings)
        except ModelUnavailable as exc:
            log.warning("%s; falling back to extractive answers", exc)
    return ExtractiveGenerator(max_context_chars=settings.max_context_chars)
