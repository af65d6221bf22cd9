from __future__ import annotations

from collections.abc import Callable

import pytest

from mmrag.elements import Element, Hit


def _make_hit(
    doc: str,
    page: int,
    kind: str = "text",
    eid: str | None = None,
    score: float = 1.0,
    text: str = "",
    caption: str = "",
) -> Hit:
    element = Element(
        id=eid or f"{doc}-{page}-{kind}",
        doc=doc,
        doc_sha256="0" * 64,
        page=page,
        kind=kind,
        bbox=(0.0, 0.0, 10.0, 10.0),
        text=text,
        caption=caption,
    )
    return Hit(element=element, score=score)


@pytest.fixture
def make_hit() -> Callable[..., Hit]:
    return _make_hit


@pytest.fixture
def questions():
    from mmrag.eval.questions import Question

    return [
        Question(
            "q1",
            "What share of revenue is services?",
            "a.pdf",
            [2],
            answers=["42"],
            evidence=["Chart"],
            elements=["a2-fig"],
        ),
        Question("q2", "Who founded the firm?", "a.pdf", [1, 3], answers=["Ada Lovelace"], evidence=["Text"]),
        Question("q3", "What is not in the corpus?", "b.pdf", []),
    ]


def ranking_table(h: Callable[..., Hit]) -> dict[tuple[str, str], list[Hit]]:
    """(question id, channel) -> hits; stands in for the query pipeline."""
    return {
        ("q1", "text"): [
            h("a.pdf", 1, eid="a1-t"),
            h("a.pdf", 2, "figure", eid="a2-fig", caption="Figure 2: revenue share by segment"),
        ],
        ("q1", "image"): [h("a.pdf", 2, "page", eid="a2-page")],
        ("q1", "fused"): [h("a.pdf", 2, "figure", eid="a2-fig", caption="Figure 2"), h("a.pdf", 1, eid="a1-t")],
        ("q2", "text"): [
            h("a.pdf", 3, eid="a3-t1"),
            h("a.pdf", 3, eid="a3-t2"),
            h("a.pdf", 2, eid="a2-t"),
            h("a.pdf", 1, eid="a1-t"),
        ],
        ("q2", "image"): [],
        ("q2", "fused"): [h("a.pdf", 2, eid="a2-t"), h("a.pdf", 1, eid="a1-t")],
    }


@pytest.fixture
def fake_search(make_hit, questions):
    """A search callable over a fixed table; records its calls."""

    def build(overrides: dict | None = None):
        table = {**ranking_table(make_hit), **(overrides or {})}
        by_text = {q.question: q.id for q in questions}
        calls: list[tuple] = []

        def search(question: str, channel: str, flt, k: int) -> list[Hit]:
            calls.append((by_text[question], channel, flt, k))
            hits = table[(by_text[question], channel)]
            return [x for x in hits if flt is None or flt.matches(x.element.doc, x.element.kind, x.element.page)]

        search.calls = calls
        return search

    return build
