"""A single-writer lock on an index folder, naming its holder."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import ClassVar

from mmrag.errors import IndexLocked


class WriterLock:
    """Exclusive, non-blocking flock on `<index>/.lock`; released on close or process death.

    The file holds the holder's pid, command line and start time, so a second writer's error can name them.
    Re-entrant within one process (flock would refuse a second descriptor of the same process): `add` may
    call `remove`, and the CLI may hold the lock around several calls.
    """

    _held: ClassVar[dict[str, tuple[int, int]]] = {}  # resolved path -> (fd, depth)

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / ".lock"
        self._key = str(self.path.resolve())
        self._owned = False

    def acquire(self) -> WriterLock:
        held = self._held.get(self._key)
        if held is not None:
            self._held[self._key] = (held[0], held[1] + 1)
            self._owned = True
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise IndexLocked(
                f"{self.path.parent}: another mmrag process is writing to this index ({holder}); "
                "wait for it to finish or stop it (searches work meanwhile)"
            ) from None
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300],
                "since": time.time()}
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._held[self._key] = (fd, 1)
        self._owned = True
        return self

    def release(self) -> None:
        if not self._owned:
            return
        self._owned = False
        fd, depth = self._held[self._key]
        if depth > 1:
            self._held[self._key] = (fd, depth - 1)
            return
        del self._held[self._key]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def _describe_holder(fd: int) -> str:
    """'pid 123: mmrag index docs, since 14:02:11' from the lock file (best effort: it may be half written)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = time.strftime("%H:%M:%S", time.localtime(float(info["since"])))
        return f"pid {info['pid']}: {info['command']}, since {since}"
    except (ValueError, KeyError, TypeError, OSError):
        return "holder unknown"
