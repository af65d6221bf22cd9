"""Settings as data: nested dataclasses that round-trip through JSON and TOML files."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any


@dataclass
class IngestSettings:
    page_dpi: int = 72
    figure_dpi: int = 144
    min_figure_area: float = 2500.0  # square points; smaller images and drawings are decorations
    min_figure_side: float = 36.0
    ocr: str = "auto"  # auto | rapidocr | tesseract | none
    ocr_figures: bool = True
    use_layout: bool = False  # pymupdf.layout (ONNX) in place of the heuristics
    max_image_pixels: int = 50_000_000  # larger embedded images are skipped with a warning
    max_pages: int = 2000  # longer documents are skipped with a warning
    chunk_chars: int = 1200
    # worker processes and per-document limits
    workers: int = 0  # processes that parse, render and OCR; 0: one per CPU core
    max_seconds: float = 600.0  # a document still parsing after this is cut off there (its worker is killed)
    max_elements: int = 50_000  # a document is truncated once it has this many elements
    max_render_pixels: int = 40_000_000  # page renders and crops larger than this are made at a lower dpi
    batch_pages: int = 8  # pages a worker parses before handing them over (memory: workers x queue x this)
    queue_batches: int = 4  # batches held per document still waiting for its turn to be written
    # OCR only where it pays
    ocr_gate: bool = True  # skip OCR of figures without sharp strokes (flat colour, gradients, soft photos)
    ocr_text_layer_chars: int = 40  # skip OCR of a figure whose text layer already has this many characters
    ocr_min_dpi: int = 96  # figures are read at their own resolution, not upscaled past figure_dpi, not below this


@dataclass
class TextChannelSettings:
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    batch_size: int = 64
    device: str = "auto"
    lexical: bool = True
    # Qdrant Edge has no background optimiser: `mmrag index` builds HNSW by itself once more than this share of
    # the points sit in plain (scanned) segments and at least optimize_min_points of them; segments smaller
    # than that stay plain (a scan of 20k points takes ~2 ms). 1.0 turns it off (`--optimize` still forces it).
    optimize_threshold: float = 0.1
    optimize_min_points: int = 20_000
    # A Qdrant server or cluster by URL (API key from $QDRANT_API_KEY); empty: the embedded Edge shard.
    qdrant_url: str | None = None
    collection: str = ""  # empty: "mmrag_<index folder name>_<hash of its path>", fixed when the index is made
    shard_number: int = 1  # the collection's shards (spread over the cluster's nodes)
    replication_factor: int = 1  # copies of each shard
    on_disk: bool = False  # dense vectors and the sparse index memory-mapped from disk instead of in RAM
    on_disk_payload: bool = True
    upsert_batch: int = 256  # points per upsert request
    retries: int = 5  # attempts after a transient error (connection, timeout, 429/5xx), with exponential back-off
    timeout_s: int = 60


@dataclass
class ImageChannelSettings:
    enabled: bool = True
    model: str = "ViT-B-32"
    pretrained: str = "laion2b_s34b_b79k"
    batch_size: int = 32
    device: str = "auto"
    kinds: list[str] = field(default_factory=lambda: ["figure", "table", "page"])
    exact_max: int = 50_000  # past this many vectors an HNSW index replaces exact search
    use_gpu: str = "auto"  # auto | never | always (faiss-gpu)


@dataclass
class CaptionerSettings:
    model: str | None = None  # any transformers image-to-text / image-text-to-text model
    max_new_tokens: int = 48
    device: str = "auto"


@dataclass
class QuerySettings:
    k: int = 10
    per_channel_k: int = 50
    fusion: str = "rrf"  # rrf | weighted
    rrf_k: int = 60
    weights: dict[str, float] = field(default_factory=lambda: {"text": 1.0, "image": 1.0})
    kind_quota: dict[str, int] = field(default_factory=lambda: {"figure": 2, "table": 2})
    reranker: str | None = None  # a sentence-transformers cross-encoder
    collapse: bool = True


@dataclass
class GeneratorSettings:
    backend: str = "auto"  # auto | transformers | openai | extractive
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_images: int = 4
    max_context_chars: int = 6000
    max_new_tokens: int = 256
    image_max_side: int = 896
    device: str = "auto"


@dataclass
class Settings:
    ingest: IngestSettings = field(default_factory=IngestSettings)
    text: TextChannelSettings = field(default_factory=TextChannelSettings)
    image: ImageChannelSettings = field(default_factory=ImageChannelSettings)
    captioner: CaptionerSettings = field(default_factory=CaptionerSettings)
    query: QuerySettings = field(default_factory=QuerySettings)
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        return _build(cls, data)

    @classmethod
    def load(cls, path: str | Path) -> Settings:
        """Read settings from a .json or .toml file; missing keys keep their defaults."""
        p = Path(path)
        text = p.read_text()
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
        return cls.from_dict(data)

    def updated(self, overrides: dict[str, Any]) -> Settings:
        """A copy with dotted-key overrides applied, e.g. {"image.device": "cuda"}; None values are ignored."""
        data = self.to_dict()
        for key, value in overrides.items():
            if value is None:
                continue
            section, _, name = key.partition(".")
            if section not in data or name not in data[section]:
                raise KeyError(f"unknown setting {key!r}")
            data[section][name] = value
        return Settings.from_dict(data)


def _build(cls: type, data: dict[str, Any]) -> Any:
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        if is_dataclass(default) and isinstance(value, dict):
            value = _build(type(default), value)
        kwargs[f.name] = value
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise KeyError(f"unknown settings in {cls.__name__}: {sorted(unknown)}")
    return cls(**kwargs)
