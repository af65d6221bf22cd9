from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from mmrag.elements import Element
from mmrag.ingest.clock import StageClock
from mmrag.pipelines.channel_writer import ChannelWriter


class RecordingChannel:
    """What a channel was asked, in order; `add` can be held until the test lets it go, or made to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.threads: set[str] = set()
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail_on_add = False

    def add(self, elements: Sequence[Element], read_pixels: Callable[[str], bytes]) -> int:
        self.threads.add(threading.current_thread().name)
        self.entered.set()
        self.hold.wait(10)
        if self.fail_on_add:
            raise RuntimeError("disk full")
        self.calls.append(("add", [e.id for e in elements]))
        return len(elements)

    def delete_docs(self, docs: Sequence[str]) -> None:
        self.calls.append(("delete", list(docs)))

    def flush(self) -> None:
        self.calls.append(("flush", None))


def elements(doc: str, first: int, n: int) -> list[Element]:
    return [Element(id=f"{doc}-{i}", doc=doc, doc_sha256="0" * 64, page=1 + i // 4, kind="text",
                    bbox=(0.0, 0.0, 1.0, 1.0), text=f"text {i}")
            for i in range(first, first + n)]


def test_jobs_run_in_order_on_their_own_thread_and_queued_adds_merge() -> None:
    channel = RecordingChannel()
    writer = ChannelWriter({"text": channel}, lambda key: b"", StageClock(), max_elements=6)
    try:
        channel.hold.clear()
        writer.delete("a.pdf")
        writer.add(elements("a.pdf", 0, 4), pages=1)
        assert channel.entered.wait(5)  # the first add is under way, held
        for first in (4, 8, 12):
            writer.add(elements("a.pdf", first, 4), pages=1)  # queued while the first runs
        channel.hold.set()
        writer.flush()
    finally:
        writer.close()
    assert channel.calls == [
        ("delete", ["a.pdf"]),
        ("add", [f"a.pdf-{i}" for i in range(4)]),
        ("add", [f"a.pdf-{i}" for i in range(4, 12)]),  # two queued fragments in one call (past 6, not further)
        ("add", [f"a.pdf-{i}" for i in range(12, 16)]),
        ("flush", None),
    ]
    assert channel.threads == {"mmrag-channels"}
    assert writer.pages_written == 4


def test_the_caller_blocks_while_twice_max_elements_are_queued() -> None:
    channel = RecordingChannel()
    waited = []
    clock = StageClock()

    def waiting() -> Any:
        waited.append(True)
        return clock.stage("wait")

    writer = ChannelWriter({"text": channel}, lambda key: b"", StageClock(), max_elements=2)
    try:
        channel.hold.clear()
        writer.add(elements("a.pdf", 0, 2), wait=waiting)
        assert channel.entered.wait(5)
        writer.add(elements("a.pdf", 2, 2), wait=waiting)
        writer.add(elements("a.pdf", 4, 2), wait=waiting)  # 4 queued now: the next add must wait
        assert not waited
        third = threading.Thread(target=writer.add, args=(elements("a.pdf", 6, 2),), kwargs={"wait": waiting})
        third.start()
        third.join(0.3)
        assert third.is_alive() and waited  # held until the channel takes the queued ones
        channel.hold.set()
        third.join(5)
        assert not third.is_alive()
        writer.flush()
    finally:
        writer.close()
    added = [e for kind, ids in channel.calls if kind == "add" for e in ids]
    assert added == [f"a.pdf-{i}" for i in range(8)]
    assert clock.take()["wait"] > 0.2


def test_a_channel_failure_is_raised_by_the_callers_next_call() -> None:
    channel = RecordingChannel()
    channel.fail_on_add = True
    writer = ChannelWriter({"text": channel}, lambda key: b"", StageClock())
    try:
        writer.add(elements("a.pdf", 0, 3))
        with pytest.raises(RuntimeError, match="disk full"):
            writer.flush()
        with pytest.raises(RuntimeError, match="disk full"):
            writer.add(elements("a.pdf", 3, 3))
    finally:
        writer.close()
    assert channel.calls == []


def test_close_drops_what_is_queued_and_stops_the_thread() -> None:
    channel = RecordingChannel()
    writer = ChannelWriter({"text": channel}, lambda key: b"", StageClock(), max_elements=2)
    channel.hold.clear()
    writer.add(elements("a.pdf", 0, 2))
    assert channel.entered.wait(5)
    writer.add(elements("a.pdf", 2, 2))
    closing = threading.Thread(target=writer.close)
    closing.start()
    channel.hold.set()
    closing.join(5)
    assert not closing.is_alive()
    assert channel.calls == [("add", ["a.pdf-0", "a.pdf-1"])]  # the queued second add never ran
