from __future__ import annotations

import pytest

from mmrag.errors import GeneratorError, ModelUnavailable
from mmrag.generators import HOW_TO_ENABLE_VLM, create_generator
from mmrag.generators.extractive import ExtractiveGenerator
from mmrag.generators.openai_compat import OpenAICompatibleGenerator
from mmrag.generators.transformers_vlm import TransformersVLMGenerator
from mmrag.settings import GeneratorSettings


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    for key in ("MMRAG_OPENAI_BASE_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


def test_auto_without_anything_is_extractive():
    gen = create_generator(GeneratorSettings())
    assert isinstance(gen, ExtractiveGenerator) and gen.name == "extractive"
    assert "MMRAG_OPENAI_BASE_URL" in HOW_TO_ENABLE_VLM and "generator.model" in HOW_TO_ENABLE_VLM


def test_auto_prefers_a_configured_server(monkeypatch):
    monkeypatch.setenv("MMRAG_OPENAI_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    gen = create_generator(GeneratorSettings(model="llama3.2-vision"))
    assert isinstance(gen, OpenAICompatibleGenerator) and gen.api_key == "k"
    assert gen.name == "openai:llama3.2-vision@http://localhost:11434/v1"
    assert isinstance(create_generator(GeneratorSettings()), ExtractiveGenerator)  # a URL but no model name


def test_auto_falls_back_when_the_model_does_not_resolve():
    assert isinstance(create_generator(GeneratorSettings(model="nobody/no-such-vlm")), ExtractiveGenerator)


def test_auto_loads_a_local_transformers_model(tiny_vlm, tmp_path):
    model, processor = tiny_vlm
    model.save_pretrained(tmp_path / "vlm")
    processor.save_pretrained(tmp_path / "vlm")
    gen = create_generator(GeneratorSettings(model=str(tmp_path / "vlm"), device="cpu", max_images=1))
    assert isinstance(gen, TransformersVLMGenerator) and gen.name == f"transformers:{tmp_path / 'vlm'}"
    assert gen.max_images == 1


def test_explicit_backends_raise_when_unusable():
    with pytest.raises(ModelUnavailable):
        create_generator(GeneratorSettings(backend="transformers", model="nobody/no-such-vlm"))
    with pytest.raises(ModelUnavailable):
        create_generator(GeneratorSettings(backend="transformers"))
    with pytest.raises(GeneratorError, match="base_url"):
        create_generator(GeneratorSettings(backend="openai", model="m"))
    with pytest.raises(GeneratorError, match="generator.model"):
        create_generator(GeneratorSettings(backend="openai", base_url="http://x/v1"))
    with pytest.raises(GeneratorError, match="unknown generator backend"):
        create_generator(GeneratorSettings(backend="gpt"))
    assert isinstance(create_generator(GeneratorSettings(backend="extractive", model="x")), ExtractiveGenerator)
