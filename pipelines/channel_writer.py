"""ChannelWriter: the channels' writes of an index run on a thread of their own, in the order they were asked for.

The indexing process reads each parsed fragment, stores it and hands its elements to this thread, then goes on to
the next fragment while the encoders run. Before, each fragment waited for its own encoding: the encoders stood
still while the process read and stored (and waited for the workers), and every fragment-sized encode call ended
with one of the encoder's parallel runs idle while the other finished its last batch. Here a call takes every
element queued by then (up to `max_elements`), so calls grow as large as the encoder falls behind.

Only this thread touches the channels between `start` and `close`; the element store stays with the caller.
A failure in a channel is raised again by the caller's next call.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from mmrag.ingest.clock import StageClock

if TYPE_CHECKING:
    from mmrag.elements import Element

_ADD, _DELETE, _FLUSH = "add", "delete", "flush"


class ChannelWriter:
    """Adds, deletes and flushes on every channel, done in order on one background thread.

    clock: the thread's own (a StageClock times one thread): "write <channel>" per channel, and what the
    channels' encoders count on it. max_elements: the most elements one `add` call on a channel is given (more
    wait for the next call); the caller blocks while twice that many are queued, so memory stays bounded.
    """

    def __init__(
        self, channels: Mapping[str, Any], read_pixels: Callable[[str], bytes], clock: StageClock,
        max_elements: int = 256,
    ) -> None:
        self.channels = channels
        self.read_pixels = read_pixels
        self.clock = clock
        self.max_elements = max(1, max_elements)
        self.pages_written = 0  # pages whose elements are in the channels (for progress)
        self._jobs: deque[tuple[str, Any, int]] = deque()
        self._queued = 0  # elements in queued add jobs
        self._busy = False
        self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="mmrag-channels", daemon=True)
        self._thread.start()

    # the caller's side ----------------------------------------------------------------------
    def add(self, elements: Sequence[Element], pages: int = 0, wait: Callable[[], Any] | None = None) -> None:
        """Queue elements for every channel's `add`; `pages` counts toward `pages_written` once they are written.
        Blocks while 2 x max_elements are queued (`wait`: a context manager factory timing that)."""
        with self._cond:
            self._raise_error()
            if self._queued >= 2 * self.max_elements:
                with wait() if wait else nullcontext():
                    while self._queued >= 2 * self.max_elements and self._error is None:
                        self._cond.wait()
                self._raise_error()
            self._jobs.append((_ADD, list(elements), pages))
            self._queued += len(elements)
            self._cond.notify_all()

    def delete(self, doc: str) -> None:
        """Queue the removal of a document from every channel."""
        self._put((_DELETE, doc, 0))

    def flush(self, wait: Callable[[], Any] | None = None) -> None:
        """Flush every channel after what is queued, and return once all of it is done (raising its failure)."""
        self._put((_FLUSH, None, 0))
        with self._cond, wait() if wait else nullcontext():
            while (self._jobs or self._busy) and self._error is None:
                self._cond.wait()
            self._raise_error()

    def close(self) -> None:
        """Stop after the job under way; queued jobs are dropped (a run that ends normally flushed them)."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._queued = 0
            self._cond.notify_all()
        self._thread.join()

    def _put(self, job: tuple[str, Any, int]) -> None:
        with self._cond:
            self._raise_error()
            self._jobs.append(job)
            self._cond.notify_all()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    # the thread ----------------------------------------------------------------------------
    def _next(self) -> tuple[str, Any, int] | None:
        """The next job, queued adds merged up to max_elements; None once closed."""
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            kind, payload, pages = self._jobs.popleft()
            if kind == _ADD:
                while self._jobs and self._jobs[0][0] == _ADD and len(payload) < self.max_elements:
                    _, more, more_pages = self._jobs.popleft()
                    payload += more
                    pages += more_pages
                self._queued -= len(payload)
            self._busy = True
            self._cond.notify_all()
            return kind, payload, pages

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._run(*job)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
                with self._cond:
                    self._error = exc
                    self._jobs.clear()
                    self._queued = 0
                    self._busy = False
                    self._cond.notify_all()
                return
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _run(self, kind: str, payload: Any, pages: int) -> None:
        for name, channel in self.channels.items():
            with self.clock.stage(f"write {name}"):  # its encoder's time counts as "encode <name>"
                if kind == _ADD:
                    channel.add(payload, self.read_pixels)
                elif kind == _DELETE:
                    channel.delete_docs([payload])
                else:
                    channel.flush()
        self.pages_written += pages

