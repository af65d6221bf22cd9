"""Image-text encoders for the image channel: the ImageEncoder protocol and the prefetching open_clip encoder.

Loading (what to hand open_clip, offline-first) lives in `mmrag.models.open_clip_loader`.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from mmrag.models.open_clip_loader import RANDOM, load_open_clip, raise_if_missing_offline
from mmrag.models.resolve import resolve_device

__all__ = ["RANDOM", "ImageEncoder", "OpenClipEncoder"]


@runtime_checkable
class ImageEncoder(Protocol):
    """Embeds images and texts into one space; rows are float32 and L2-normalised."""

    name: str
    dim: int

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...

    def fingerprint(self) -> dict[str, Any]: ...


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with transparency flattened onto white (a figure's transparent background is paper, not black)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class OpenClipEncoder:
    """An open_clip CLIP or SigLIP model behind the ImageEncoder protocol.

    Images are resized and cropped on CPU threads into uint8 arrays (decoding included, for lazily opened
    images) while the model runs on the previous batch; scaling and normalisation happen on the device.
    """

    def __init__(
        self, model: Any, preprocess: Any, tokenizer: Any, *, name: str, pretrained: str, device: str,
        batch_size: int = 32, workers: int | None = None,
    ) -> None:
        import torch

        self.name = name
        self.pretrained = pretrained
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self._torch = torch
        self._cpu_steps, mean, std = _split_preprocess(preprocess)
        self._mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) if mean is not None else None
        self._std = torch.tensor(std, device=device).view(1, 3, 1, 1) if std is not None else None
        cores = os.cpu_count() or 1
        self._workers = workers or (min(16, cores) if device.startswith("cuda") else max(1, min(4, cores // 2)))
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="mmrag-preprocess")
        self.dim = int(self.encode_text(["a"]).shape[1])

    @classmethod
    def load(
        cls, model: str = "ViT-B-32", pretrained: str | None = "laion2b_s34b_b79k", device: str = "auto",
        batch_size: int = 32,
    ) -> OpenClipEncoder:
        """Load an open_clip model offline-first (see `load_open_clip`); ModelUnavailable names the remedy.

        pretrained: an open_clip tag, a checkpoint file, a directory, "hf-hub:org/name", or "random".
        """
        raise_if_missing_offline(model, pretrained)  # before torch is imported: ~5 s saved where weights are absent
        device = resolve_device(device)
        parts = load_open_clip(model, pretrained, device)
        return cls(parts.model, parts.preprocess, parts.tokenizer, name=model, pretrained=parts.label, device=device,
                   batch_size=batch_size)

    # -----------------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.name, "pretrained": self.pretrained, "dim": self.dim}

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    def _autocast(self) -> Any:
        if self.device.startswith("cuda"):
            return self._torch.autocast("cuda", dtype=self._torch.float16)
        return contextlib.nullcontext()

    def _prepare(self, image: Image.Image) -> np.ndarray:
        image = _to_rgb(image)
        for step in self._cpu_steps:
            image = step(image)
        if isinstance(image, Image.Image):
            return np.asarray(image, dtype=np.uint8)
        return np.asarray(image)  # fallback path: a float CHW tensor from the full transform

    def _prefetched_batches(self, images: Sequence[Image.Image]) -> Iterator[Any]:
        """Host batches, the next ones already being prepared on worker threads."""
        torch = self._torch
        chunks = (images[i : i + self.batch_size] for i in range(0, len(images), self.batch_size))
        pending: deque[list[Future[np.ndarray]]] = deque()
        depth = 2 if self.device.startswith("cuda") else 1
        for chunk in chunks:
            pending.append([self._pool.submit(self._prepare, im) for im in chunk])
            if len(pending) > depth:
                yield self._collate(pending.popleft(), torch)
        while pending:
            yield self._collate(pending.popleft(), torch)

    def _collate(self, futures: list[Future[np.ndarray]], torch: Any) -> Any:
        batch = torch.from_numpy(np.stack([f.result() for f in futures]))
        if self.device.startswith("cuda"):
            batch = batch.pin_memory()
        return batch

    def _to_model_input(self, batch: Any) -> Any:
        torch = self._torch
        batch = batch.to(self.device, non_blocking=True)
        if batch.dtype == torch.uint8:  # NHWC uint8 → NCHW float, scaled and normalised on the device
            batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
            if self._mean is not None:
                batch = (batch - self._mean) / self._std
        return batch

    def model_inputs(self, images: Sequence[Image.Image]) -> Any:
        """The preprocessed, normalised batch on the device, exactly as encode_images feeds the model."""
        return self._torch.cat([self._to_model_input(b) for b in self._prefetched_batches(images)])

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed images (any PIL mode; lazily opened ones are decoded on worker threads)."""
        torch = self._torch
        if len(images) == 0:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        outputs = []
        with torch.inference_mode(), self._autocast():
            for batch in self._prefetched_batches(images):
                features = self.model.encode_image(self._to_model_input(batch))
                outputs.append(torch.nn.functional.normalize(features.float(), dim=-1))
        return torch.cat(outputs).cpu().numpy().astype(np.float32, copy=False)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed query texts."""
        torch = self._torch
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        outputs = []
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(texts), self.batch_size):
                tokens = self.tokenizer(list(texts[i : i + self.batch_size])).to(self.device)
                features = self.model.encode_text(tokens)
                outputs.append(torch.nn.functional.normalize(features.float(), dim=-1))
        return torch.cat(outputs).cpu().numpy().astype(np.float32, copy=False)


def _split_preprocess(preprocess: Any) -> tuple[list[Any], tuple[float, ...] | None, tuple[float, ...] | None]:
    """Split open_clip's eval transform into PIL steps (CPU) and mean/std (applied on the device).

    Falls back to running the whole transform on CPU when it has an unexpected shape.
    """
    steps = list(getattr(preprocess, "transforms", []))
    names = [type(s).__name__ for s in steps]
    to_tensor = next((i for i, n in enumerate(names) if n.endswith("ToTensor")), None)
    if to_tensor is None or to_tensor != len(steps) - 2 or names[-1] != "Normalize":
        return [preprocess], None, None
    norm = steps[-1]
    return steps[:to_tensor], tuple(float(v) for v in norm.mean), tuple(float(v) for v in norm.std)
