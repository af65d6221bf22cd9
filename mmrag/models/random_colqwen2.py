"""A randomly initialised ColQwen2 (transformers' `ColQwen2ForRetrieval`) with a processor built offline, for
tests and benchmarks: the page channel's whole path (processor, forward pass, multivectors, MaxSim) without
weights from the hub. "tiny" runs in milliseconds on a CPU; "2b" has the shapes of vidore/colqwen2-v1.0-hf
(Qwen2-VL-2B, 128-d vectors, up to 768 image tokens a page), for throughput on a GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmrag.models.byte_tokenizer import build_tokenizer

# Architecture sizes, as random_qwen2vl's, plus the projection's width (`embedding_dim`).
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, mrope_section=[2, 3, 3]),
        "vision": dict(depth=2, embed_dim=32, hidden_size=64, num_heads=4),
        "pixels": (56 * 56, 112 * 112),
        "embedding_dim": 16,
    },
    "2b": {
        "text": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                     num_key_value_heads=2, mrope_section=[16, 24, 24]),
        "vision": dict(depth=32, embed_dim=1280, hidden_size=1536, num_heads=16),
        "pixels": (56 * 56, 768 * 28 * 28),
        "embedding_dim": 128,
    },
}  # fmt: skip


def build_random_colqwen2(size: str = "tiny", seed: int = 0, max_pixels: int | None = None) -> tuple[Any, Any]:
    """(model, processor): a ColQwen2ForRetrieval of the given size with random weights, eval mode, CPU, float32."""
    import torch
    from transformers import ColQwen2Config, ColQwen2ForRetrieval, ColQwen2Processor, Qwen2VLImageProcessor

    spec = SIZES[size]
    tok = build_tokenizer()
    min_px, max_px = spec["pixels"]
    processor = ColQwen2Processor(
        image_processor=Qwen2VLImageProcessor(min_pixels=min_px, max_pixels=max_pixels or max_px), tokenizer=tok)
    ids = tok.convert_tokens_to_ids
    text = dict(spec["text"])
    mrope = text.pop("mrope_section")
    special = dict(bos_token_id=ids("<|endoftext|>"), eos_token_id=ids("<|im_end|>"),
                   pad_token_id=ids("<|endoftext|>"))
    vlm = dict(
        model_type="qwen2_vl",
        text_config=dict(**text, vocab_size=len(tok), max_position_embeddings=32768,
                         rope_scaling={"type": "mrope", "mrope_section": mrope}, **special),
        vision_config=dict(**spec["vision"], patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"), **special,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = ColQwen2ForRetrieval(ColQwen2Config(vlm_config=vlm, embedding_dim=spec["embedding_dim"])).eval()
    return model, processor


def save_random_colqwen2(folder: str | Path, size: str = "tiny", seed: int = 0, max_pixels: int | None = None) -> str:
    """Build the random ColQwen2 and save it with its processor to `folder` (a model folder `pages.model` can
    name); returns the folder."""
    from transformers.utils import logging as hf_logging

    model, processor = build_random_colqwen2(size, seed, max_pixels)
    folder = Path(folder)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # no "writing shards" progress bars in test output
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    return str(folder)
