"""A randomly initialised Qwen2-VL with an offline byte-level tokenizer, for tests and benchmarks."""

from __future__ import annotations

from typing import Any

# The tokenizer is shared with the random ColQwen2 (mmrag.models.random_colqwen2).
from mmrag.models.byte_tokenizer import SPECIAL_TOKENS, build_tokenizer

__all__ = ["SPECIAL_TOKENS", "build_random_qwen2vl", "build_tokenizer"]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Architecture sizes: "tiny" for CPU tests, "2b" the shapes of Qwen/Qwen2-VL-2B-Instruct.
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, mrope_section=[2, 3, 3], vocab_size=None),
        "vision": dict(depth=2, embed_dim=32, hidden_size=64, num_heads=4),
        "pixels": (56 * 56, 112 * 112),
    },
    "2b": {
        "text": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                     num_key_value_heads=2, mrope_section=[16, 24, 24], vocab_size=151936,
                     tie_word_embeddings=True),
        "vision": dict(depth=32, embed_dim=1280, hidden_size=1536, num_heads=16),
        "pixels": (56 * 56, 28 * 28 * 1280),
    },
}  # fmt: skip


def build_random_qwen2vl(size: str = "tiny", seed: int = 0, max_pixels: int | None = None) -> tuple[Any, Any]:
    """(model, processor): a Qwen2-VL of the given size with random weights, in eval mode on CPU, float32."""
    import torch
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    spec = SIZES[size]
    tok = build_tokenizer()
    min_px, max_px = spec["pixels"]
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=min_px, max_pixels=max_pixels or max_px),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    ids = tok.convert_tokens_to_ids
    text = dict(spec["text"])
    mrope = text.pop("mrope_section")
    text["vocab_size"] = text["vocab_size"] or len(tok)
    cfg = Qwen2VLConfig(
        text_config=dict(
            **text, max_position_embeddings=32768, bos_token_id=ids("<|endoftext|>"), eos_token_id=ids("<|im_end|>"),
            rope_scaling={"type": "mrope", "mrope_section": mrope},
        ),
        vision_config=dict(**spec["vision"], patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
        bos_token_id=ids("<|endoftext|>"), eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"),
        tie_word_embeddings=text.get("tie_word_embeddings", False),
    )  # fmt: skip
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    return model, processor
