"""Synthetic vectors for the benchmarks that measure search and storage without a model."""

from __future__ import annotations

import numpy as np


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray, sigma: float = 0.8) -> np.ndarray:
    """n unit vectors scattered around randomly chosen centres (rows of `centres`): clustered like real embeddings,
    so that HNSW and IVF behave as they do on them, not as on uniform noise."""
    d = centres.shape[1]
    x = centres[rng.integers(0, len(centres), n)] + sigma * rng.standard_normal((n, d), dtype=np.float32) / np.sqrt(d)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
