"""A test hook that SIGKILLs this process at a named point of a write, to prove a killed run leaves a usable index.

Set `MMRAG_TEST_KILL_AT=<point>` (or `<point>@N`: the N-th time the point is reached) before starting mmrag.
Points: `parse` (a pixel file is about to be written while a document is parsed), `store` (a document's rows
were committed as `indexing`, no vector written yet), `embed` (a batch of text vectors was just written),
`optimize` (the text shard is about to be optimised), `remove` (a document's vectors are being deleted).
Unset, `kill_point` is one comparison against None.
"""

from __future__ import annotations

import os
import signal

_AT, _, _NTH = (os.environ.get("MMRAG_TEST_KILL_AT") or "").partition("@")
_seen: dict[str, int] = {}


def kill_point(name: str) -> None:
    """SIGKILL the process here when MMRAG_TEST_KILL_AT names this point (and this is its N-th arrival)."""
    if not _AT or name != _AT:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] >= int(_NTH or 1):
        os.kill(os.getpid(), signal.SIGKILL)
