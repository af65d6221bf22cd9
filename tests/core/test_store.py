from __future__ import annotations

from pathlib import Path

from mmrag.elements import Element, element_id
from mmrag.store import ElementStore


def make(doc: str, page: int, kind: str, image: str | None = None) -> Element:
    bbox = (0.0, 0.0, 100.0, 50.0 * page)
    return Element(element_id("sha" + doc, page, kind, bbox), doc, "sha" + doc, page, kind, bbox, "t", "", image)


def test_documents_are_invisible_until_finished(tmp_path: Path) -> None:
    store = ElementStore(tmp_path)
    els = [make("a.pdf", 1, "text"), make("a.pdf", 1, "page")]
    store.begin_document("a.pdf", "/x/a.pdf", "sha", 1, els)
    assert store.get([e.id for e in els]) == {}
    assert list(store.elements()) == []
    store.finish_document("a.pdf")
    assert set(store.get([e.id for e in els])) == {e.id for e in els}
    assert store.counts() == {"text": 1, "page": 1}
    assert store.page_element_id("a.pdf", 1) == els[1].id


def test_pixels_are_content_addressed_and_collected(tmp_path: Path) -> None:
    store = ElementStore(tmp_path)
    k1 = store.put_pixels(b"one")
    assert store.put_pixels(b"one") == k1
    k2 = store.put_pixels(b"two")
    store.begin_document("a.pdf", "a.pdf", "sha", 1, [make("a.pdf", 1, "page", image=k1)])
    store.finish_document("a.pdf")
    assert store.garbage_collect_pixels() == 1
    assert store.read_pixels(k1) == b"one" and not store.pixel_path(k2).exists()
    store.delete_document("a.pdf")
    assert store.garbage_collect_pixels() == 1 and store.documents() == []


def test_reopen_keeps_rows(tmp_path: Path) -> None:
    store = ElementStore(tmp_path)
    store.begin_document("a.pdf", "a.pdf", "sha", 1, [make("a.pdf", 1, "text")])
    store.finish_document("a.pdf", {"ocr_pages": [1]})
    store.close()
    again = ElementStore(tmp_path)
    assert again.document("a.pdf")["info"] == {"ocr_pages": [1]}
    assert len(list(again.elements(doc="a.pdf"))) == 1


def test_referenced_elements_by_page_label_and_caption(tmp_path) -> None:
    from mmrag.elements import Element
    from mmrag.store import ElementStore

    store = ElementStore(tmp_path)
    els = [
        Element("p1", "a.pdf", "sha", 1, "page", (0, 0, 1, 1), text="cover", meta={"label": "i"}),
        Element("p2", "a.pdf", "sha", 2, "page", (0, 0, 1, 1), text="body", meta={"label": "1"}),
        Element("p3", "a.pdf", "sha", 3, "page", (0, 0, 1, 1), text="end", meta={"label": "2"}),
        Element("f1", "a.pdf", "sha", 3, "figure", (0, 0, 1, 1), caption="Figure 3: x", meta={"label": "Figure 3"}),
        Element("t1", "a.pdf", "sha", 2, "table", (0, 0, 1, 1), caption="Table 2 y", meta={"label": "Table 2"}),
    ]
    store.begin_document("a.pdf", "a.pdf", "sha", 3, els)
    assert store.referenced_elements(["a.pdf"], "figure", "3") == []  # the document is not ready yet
    store.finish_document("a.pdf")
    assert store.referenced_elements(["a.pdf"], "page", "2") == ["p2", "p3"]  # physical 2, printed label "2"
    assert store.referenced_elements(["a.pdf"], "page", "i") == ["p1"]
    assert store.referenced_elements(["a.pdf"], "figure", "3") == ["f1"]
    assert store.referenced_elements(["a.pdf"], "table", "2") == ["t1"]
    assert store.referenced_elements(["a.pdf"], "first", "1") == ["p1"]
    assert store.referenced_elements(["a.pdf"], "last", "-1") == ["p3"]
    assert store.referenced_elements(["b.pdf"], "page", "1") == []
