"""StageClock: seconds spent per named stage of ingest, each second counted once (a nested stage pauses its parent).

Parse workers time their own stages (open, text, layout, tables, render, OCR) on the process-wide `CLOCK` and send
the figures back with each fragment; the main process keeps its own clock (encode, store, channel writes).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


class StageClock:
    """Exclusive time per stage: while a nested stage runs, the enclosing one does not count."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.first_page_at = 0.0  # time.time() when the first page was parsed since this was last reset to 0
        self._stack: list[str] = []
        self._mark = 0.0

    def page_done(self) -> None:
        """Note that a page has been parsed (only the first one's time is kept)."""
        if not self.first_page_at:
            self.first_page_at = time.time()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._credit_top()
        self._stack.append(name)
        try:
            yield
        finally:
            self._credit_top()
            self._stack.pop()

    def take(self) -> dict[str, float]:
        """The seconds counted since the last take (stages still open keep counting from now)."""
        self._credit_top()
        out, self.seconds = self.seconds, {}
        return out

    def _credit_top(self) -> None:
        """Count the time since the last mark to the innermost open stage, and mark now."""
        now = time.perf_counter()
        if self._stack:
            top = self._stack[-1]
            self.seconds[top] = self.seconds.get(top, 0.0) + now - self._mark
        self._mark = now


def add_seconds(total: dict[str, float], more: dict[str, float]) -> None:
    """Add `more` into `total`, stage by stage."""
    for name, s in more.items():
        total[name] = total.get(name, 0.0) + s


CLOCK = StageClock()  # this process's parse stages; a worker sends and resets it with each fragment
stage = CLOCK.stage


def timed(name: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorator: calls of the function count as stage `name` on this process's CLOCK."""

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with CLOCK.stage(name):
                return fn(*args, **kwargs)

        return run

    return wrap
