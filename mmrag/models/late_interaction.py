"""Late-interaction page encoders (ColPali / ColQwen2): a page render becomes many vectors, a query too, and a
page's score is MaxSim (for each query vector its best page vector, summed).

Through transformers' own classes (`ColQwen2ForRetrieval`, `ColPaliForRetrieval` and their processors), so any
checkpoint in the transformers format loads: `vidore/colqwen2-v1.0-hf`, `vidore/colpali-v1.3-hf`, or a local
folder. The names of the original (colpali-engine) repositories are mapped to their transformers twins. Names
resolve like every other model (a local folder, the Hugging Face cache, the hub when it answers); without the
weights, one ModelUnavailable with the remedy. The weights load on first encode (or `load_weights()`, which
ingest runs on a thread while the first pages parse), so opening an index to delete a document loads none.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from mmrag.errors import ModelUnavailable
from mmrag.models.resolve import hub_cache_dir, hub_offline, hub_reachable, resolve_device, resolve_model_path

ROLE = "pages"
# The transformers classes of each model_type a checkpoint's config.json may name.
ARCHITECTURES = {"colqwen2": "ColQwen2ForRetrieval", "colpali": "ColPaliForRetrieval"}
# colpali-engine's repositories (PEFT adapters, not loadable by transformers) → their transformers twins.
HF_FORMAT = {
    "vidore/colqwen2-v1.0": "vidore/colqwen2-v1.0-hf",
    "vidore/colpali-v1.3": "vidore/colpali-v1.3-hf",
    "vidore/colpali-v1.2": "vidore/colpali-v1.2-hf",
}
DTYPES = ("auto", "float32", "float16", "bfloat16")
# One loaded model per (weights, device, dtype) and process: a server's reopened index views share it.
_MODELS: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_MODELS_LOCK = threading.Lock()


@runtime_checkable
class LateInteractionEncoder(Protocol):
    """Page images and query texts as multivectors: one (tokens, dim) float32 array each, rows L2-normalised."""

    name: str
    dim: int

    def encode_pages(self, images: Sequence[Image.Image]) -> list[np.ndarray]: ...

    def encode_queries(self, texts: Sequence[str]) -> list[np.ndarray]: ...

    def fingerprint(self) -> dict[str, Any]: ...


def maxsim(query: np.ndarray, page: np.ndarray) -> float:
    """The late-interaction score: for each query vector its largest dot product with a page vector, summed."""
    if len(query) == 0 or len(page) == 0:
        return 0.0
    return float((np.asarray(query, np.float32) @ np.asarray(page, np.float32).T).max(axis=1).sum())


def pool_tokens(vectors: np.ndarray, factor: int) -> np.ndarray:
    """About len/factor vectors in place of a page's vectors: hierarchical (Ward) clustering of the vectors by
    cosine distance, each cluster replaced by its normalised mean (colpali-engine's hierarchical token pooling,
    which its authors report keeps most of the retrieval quality at small factors). factor 1: the vectors as
    they are."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if factor <= 1 or len(vectors) <= 2:
        return vectors
    from scipy.cluster.hierarchy import fcluster, linkage

    clusters = max(1, len(vectors) // factor)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    distances = np.clip(1.0 - unit @ unit.T, 0.0, None)
    condensed = distances[np.triu_indices(len(unit), k=1)]
    labels = fcluster(linkage(condensed, method="ward"), t=clusters, criterion="maxclust")
    pooled = np.stack([vectors[labels == c].mean(axis=0) for c in np.unique(labels)])
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def pooled_vector(vectors: np.ndarray) -> np.ndarray:
    """One vector for a whole page (or query): the normalised mean of its vectors, for a first-stage search."""
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _fit_pixels(image: Image.Image, max_pixels: int) -> Image.Image:
    """RGB, scaled down (aspect kept) to at most max_pixels pixels when max_pixels > 0."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    w, h = image.size
    if max_pixels > 0 and w * h > max_pixels:
        scale = (max_pixels / (w * h)) ** 0.5
        image = image.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.Resampling.BICUBIC)
    return image


def resolve_pages_model(name: str) -> str:
    """A local folder, or a hub id when the hub answers, for a ColQwen2/ColPali model name; ModelUnavailable
    with the remedy otherwise."""
    repo = HF_FORMAT.get(name, name)
    if name.startswith((".", "/", "~")) and not Path(name).expanduser().is_dir():
        raise ModelUnavailable(name, ROLE, "no such folder; name a folder holding a transformers ColQwen2/ColPali "
                                           "model (config.json and weights) or a hub id such as "
                                           "vidore/colqwen2-v1.0-hf")
    try:
        path = resolve_model_path(repo, role=ROLE)  # a folder, a cache snapshot, or the id when not HF_HUB_OFFLINE
    except ModelUnavailable:
        path = repo
    if Path(path).is_dir():
        return path
    if "/" not in repo or not hub_reachable():
        raise ModelUnavailable(name, ROLE, (
            f"not in the Hugging Face cache ({hub_cache_dir()}) and the hub is "
            f"{'offline (HF_HUB_OFFLINE=1)' if hub_offline() else 'not answering'}; run `huggingface-cli download "
            f"{repo}` on a machine with internet (then copy the cache), or set pages.model to a local folder"))
    return path


def read_model_config(path: str) -> dict[str, Any]:
    """The checkpoint's config.json (from the folder, or from the hub for an id), checked to be a ColQwen2 or
    ColPali model in the transformers format."""
    folder = Path(path)
    try:
        if folder.is_dir():
            config = json.loads((folder / "config.json").read_text())
        else:
            from huggingface_hub import hf_hub_download

            config = json.loads(Path(hf_hub_download(path, "config.json")).read_text())
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(path, ROLE, (
            f"no readable config.json ({_first_line(exc)}); pass a transformers ColQwen2/ColPali folder, e.g. a "
            "download of vidore/colqwen2-v1.0-hf")) from None
    kind = config.get("model_type")
    if kind not in ARCHITECTURES:
        raise ModelUnavailable(path, ROLE, (
            f"not a transformers ColQwen2/ColPali checkpoint (model_type {kind!r}); use one made for "
            "ColQwen2ForRetrieval or ColPaliForRetrieval, e.g. vidore/colqwen2-v1.0-hf"))
    return config


class ColVisionEncoder:
    """A ColQwen2 or ColPali model behind `LateInteractionEncoder`, batched, half precision on a GPU.

    The processor prepares the next batch on a thread while the model runs on the current one. Each page's
    vectors are the model's output at every attended position (the prompt's tokens and the image's), as the
    ColPali authors score them; queries get the processor's prefix and augmentation tokens.
    """

    def __init__(self, name: str, device: str = "auto", dtype: str = "auto", batch_size: int = 4,
                 max_pixels: int = 0) -> None:
        self.name = name
        self.path = resolve_pages_model(name)
        config = read_model_config(self.path)
        self.model_type = str(config["model_type"])
        self.dim = int(config.get("embedding_dim") or 128)
        # The fingerprint names the weights, not where they lie: moving an index or a model folder is no reason to
        # re-embed (a local folder is known by its name).
        given = Path(name).expanduser()
        self.label = given.resolve().name if given.is_dir() else HF_FORMAT.get(name, name)
        self._device = device
        self._dtype = dtype
        self.batch_size = max(1, int(batch_size))
        self.max_pixels = max(0, int(max_pixels))
        self._model: Any = None
        self._processor: Any = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="mmrag-pages-preprocess")

    @property
    def device(self) -> str:
        return resolve_device(self._device)

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.label, "dim": self.dim, "max_pixels": self.max_pixels}

    def torch_dtype(self) -> Any:
        import torch

        if self._dtype != "auto":
            return getattr(torch, self._dtype)
        if self.device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32

    def load_weights(self) -> None:
        """Load the model and processor now (once; thread-safe). ModelUnavailable when they cannot load."""
        with self._lock:
            if self._model is not None:
                return
            key = (self.path, self.device, str(self.torch_dtype()))
            with _MODELS_LOCK:
                if key not in _MODELS:
                    _MODELS[key] = self._load()
            self._model, self._processor = _MODELS[key]

    def _load(self) -> tuple[Any, Any]:
        import transformers
        from transformers import AutoProcessor

        offline = not Path(self.path).is_dir() and not hub_reachable()
        try:
            cls = getattr(transformers, ARCHITECTURES[self.model_type])
            processor = AutoProcessor.from_pretrained(self.path, local_files_only=offline)
            model = cls.from_pretrained(self.path, dtype=self.torch_dtype(), local_files_only=offline)
        except (OSError, ValueError, ImportError) as exc:
            raise ModelUnavailable(self.name, ROLE, f"could not load {self.path}: {_first_line(exc)}") from exc
        return model.to(self.device).eval(), processor

    @property
    def model(self) -> Any:
        self.load_weights()
        return self._model

    @property
    def processor(self) -> Any:
        self.load_weights()
        return self._processor

    # -----------------------------------------------------------------------------------------
    def page_inputs(self, images: Sequence[Image.Image]) -> Any:
        """The processor's batch for these page images (CPU tensors), as `encode_pages` feeds the model."""
        return self.processor.process_images(images=[_fit_pixels(im, self.max_pixels) for im in images])

    def query_inputs(self, texts: Sequence[str]) -> Any:
        return self.processor.process_queries(text=list(texts))

    def forward(self, batch: Any) -> list[np.ndarray]:
        """The model on one prepared batch: each row's vectors at its attended positions, float32, normalised."""
        import torch

        model = self.model
        dtype = next(model.parameters()).dtype
        inputs = {k: (v.to(self.device, dtype=dtype) if k == "pixel_values" else v.to(self.device))
                  for k, v in batch.items() if hasattr(v, "to")}
        with torch.inference_mode():
            embeddings = model(**inputs).embeddings
            mask = inputs["attention_mask"].bool()
            rows = [embeddings[i][mask[i]].float() for i in range(embeddings.shape[0])]
            rows = [torch.nn.functional.normalize(r, dim=-1).cpu().numpy() for r in rows]
        return [np.ascontiguousarray(r, dtype=np.float32) for r in rows]

    def _encode(self, items: Sequence[Any], prepare: Callable[[Sequence[Any]], Any]) -> list[np.ndarray]:
        self.load_weights()
        chunks = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        out: list[np.ndarray] = []
        pending = self._pool.submit(prepare, chunks[0]) if chunks else None
        for i in range(len(chunks)):
            assert pending is not None
            batch = pending.result()
            pending = self._pool.submit(prepare, chunks[i + 1]) if i + 1 < len(chunks) else None
            out.extend(self.forward(batch))
        return out

    def encode_pages(self, images: Sequence[Image.Image]) -> list[np.ndarray]:
        """Each page image's vectors, (tokens, dim) float32."""
        return self._encode(images, self.page_inputs)

    def encode_queries(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each query's vectors, (tokens, dim) float32."""
        return self._encode(texts, self.query_inputs)

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def load_pages_encoder(name: str, device: str = "auto", dtype: str = "auto", batch_size: int = 4,
                       max_pixels: int = 0) -> ColVisionEncoder:
    """The encoder for `pages.model` (weights load on first use); ModelUnavailable names the remedy."""
    return ColVisionEncoder(name, device=device, dtype=dtype, batch_size=batch_size, max_pixels=max_pixels)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
