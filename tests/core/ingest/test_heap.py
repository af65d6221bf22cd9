from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from mmrag.ingest import heap
from mmrag.settings import IngestSettings

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's"
)


@glibc
def test_fix_mmap_threshold_sets_it_and_zero_leaves_glibc_alone() -> None:
    assert heap.fix_mmap_threshold(IngestSettings().heap_mmap_kb) is True
    assert heap.fix_mmap_threshold(0) is False


def test_processes_started_in_the_block_get_the_threshold_and_the_parent_keeps_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(heap.MMAP_THRESHOLD_ENV, raising=False)
    probe = [sys.executable, "-c", f"import os; print(os.environ.get({heap.MMAP_THRESHOLD_ENV!r}, ''))"]
    with heap.mmap_threshold_env(4096):
        seen = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
    assert seen == str(4096 * 1024)
    assert heap.MMAP_THRESHOLD_ENV not in os.environ
    with heap.mmap_threshold_env(0):
        assert heap.MMAP_THRESHOLD_ENV not in os.environ


def test_a_threshold_the_user_set_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(heap.MMAP_THRESHOLD_ENV, "131072")
    with heap.mmap_threshold_env(4096):
        assert os.environ[heap.MMAP_THRESHOLD_ENV] == "131072"
    assert os.environ[heap.MMAP_THRESHOLD_ENV] == "131072"
