"""The C heap of a process that parses or encodes: glibc keeps what it frees unless told otherwise.

Three calls, no-ops where there is no glibc: `trim_heap` hands the free pages back now; `fix_mmap_threshold`
stops glibc from raising its mmap threshold as large blocks come and go, in this process; `mmap_threshold_env`
does the same for processes started from this one, from their first allocation. By default glibc lets each freed
large block (a pixmap, a page's pickled batch, an OCR input, an encoder's output) raise the threshold up to 32 MB,
so that later blocks of that size come from the heap, where they fragment it and stay resident. A fixed threshold
keeps blocks of at least that size mapped on their own: they go back to the system when freed.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD_ENV = "MALLOC_MMAP_THRESHOLD_"  # glibc's environment tunable of the same


def trim_heap() -> bool:
    """Hand the C heap's free pages back to the system (glibc's malloc_trim); False where there is no glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def fix_mmap_threshold(kb: int) -> bool:
    """Blocks of `kb` KB and more are mapped on their own in this process from now on, whatever was freed before
    (glibc's mmap threshold, fixed); 0 leaves glibc's adaptive threshold. True when set (glibc only)."""
    libc = _libc()
    if libc is None or kb <= 0:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, int(kb) * 1024))


@contextlib.contextmanager
def mmap_threshold_env(kb: int) -> Iterator[None]:
    """Processes started inside this block (a forkserver, spawned workers) fix their mmap threshold at `kb` KB from
    their start, before their imports have spread the heap; a value the user set in the environment wins."""
    if kb <= 0 or MMAP_THRESHOLD_ENV in os.environ:
        yield
        return
    os.environ[MMAP_THRESHOLD_ENV] = str(int(kb) * 1024)
    try:
        yield
    finally:
        os.environ.pop(MMAP_THRESHOLD_ENV, None)


@functools.cache
def _libc() -> Any:
    """glibc, loaded once; None where there is none."""
    try:
        import ctypes

        lib = ctypes.CDLL("libc.so.6")
        lib.malloc_trim  # noqa: B018 - glibc only
        lib.mallopt  # noqa: B018
        return lib
    except (OSError, AttributeError):
        return None
