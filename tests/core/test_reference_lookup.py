"""What a reference names in the element store: pages by number, printed label or folio, position from either end,
neighbours of a named page, the appendix's pages, the page a quoted title opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrag.elements import Element
from mmrag.store import ElementStore


def page(doc: str, n: int, text: str = "", label: str | None = None) -> Element:
    return Element(f"{doc}-p{n}", doc, "sha" + doc, n, "page", (0, 0, 1, 1), text=text or f"page {n} body",
                   meta={"label": label})


@pytest.fixture()
def store(tmp_path: Path) -> ElementStore:
    store = ElementStore(tmp_path)
    report = [page("r.pdf", 1, "Annual Report\n2023"), page("r.pdf", 2, "Contents\nAppendix A ....... 9\nAppendix B"),
              page("r.pdf", 3, "Introduction\nIn this report\n1"), page("r.pdf", 4, "Results\nRevenue grew.\n2")]
    report += [page("r.pdf", n, f"Body {n}\ntext\n{n - 2}") for n in range(5, 9)]
    report += [page("r.pdf", 9, "Appendix A: Methods\nWe sampled\n7"), page("r.pdf", 10, "Methods, continued\n8"),
               page("r.pdf", 11, "APPENDIX B - Glossary\nterms\n9"), page("r.pdf", 12, "Back matter")]
    deck = [page("d.pdf", n, f"Slide title {n}\nbullet", label=str(n)) for n in range(1, 7)]
    deck[2] = page("d.pdf", 3, "Breakout Rooms\nJoin a room", label="3")
    deck[0] = page("d.pdf", 1, "Deck title", label="i")
    for doc, els in (("r.pdf", report), ("d.pdf", deck)):
        store.begin_document(doc, doc, "sha" + doc, len(els), els)
        store.finish_document(doc)
    return store


def pages(store: ElementStore, kind: str, value: str, offset: int = 0, docs: tuple[str, ...] = ("r.pdf", "d.pdf")
          ) -> list[tuple[str, int]]:
    ids = store.referenced_elements(list(docs), kind, value, offset)
    found = store.get(ids)
    return [(found[i].doc, found[i].page) for i in ids]


def test_positions_from_either_end(store: ElementStore) -> None:
    assert pages(store, "first", "1") == [("d.pdf", 1), ("r.pdf", 1)]
    assert pages(store, "first", "5") == [("d.pdf", 5), ("r.pdf", 5)]
    assert pages(store, "first", "9") == [("r.pdf", 9)]  # the deck has 6 slides
    assert pages(store, "last", "-1") == [("d.pdf", 6), ("r.pdf", 12)]
    assert pages(store, "last", "-2") == [("d.pdf", 5), ("r.pdf", 11)]
    assert pages(store, "last", "-7") == [("r.pdf", 6)]


def test_page_numbers_labels_and_printed_folios(store: ElementStore) -> None:
    # physical 5 in both; in the report (no labels) also the page that prints "5" at its foot (physical 7)
    assert pages(store, "page", "5") == [("d.pdf", 5), ("r.pdf", 5), ("r.pdf", 7)]
    assert pages(store, "page", "i") == [("d.pdf", 1)]  # a label the PDF defines
    assert pages(store, "page", "9") == [("r.pdf", 9), ("r.pdf", 11)]
    assert pages(store, "page", "40") == []


def test_neighbours(store: ElementStore) -> None:
    assert pages(store, "page", "2", offset=1, docs=("d.pdf",)) == [("d.pdf", 3)]
    assert pages(store, "first", "1", offset=1) == [("d.pdf", 2), ("r.pdf", 2)]
    assert pages(store, "last", "-1", offset=-1) == [("d.pdf", 5), ("r.pdf", 11)]
    assert pages(store, "last", "-1", offset=1) == []  # nothing after the last page
    assert pages(store, "heading", "breakout rooms", offset=1) == [("d.pdf", 4)]
    assert pages(store, "heading", "breakout rooms") == [("d.pdf", 3)]
    assert pages(store, "appendix", "", offset=-1) == [("r.pdf", 8)]  # the page before the appendix starts


def test_appendix_pages(store: ElementStore) -> None:
    # from where the appendix starts (not the contents page that lists it) to the end
    assert pages(store, "appendix", "") == [("r.pdf", n) for n in range(9, 13)]
    assert pages(store, "appendix", "a") == [("r.pdf", 9), ("r.pdf", 10)]
    assert pages(store, "appendix", "b") == [("r.pdf", 11), ("r.pdf", 12)]
    assert pages(store, "appendix", "c") == []


def test_figures_and_tables_unchanged(tmp_path: Path) -> None:
    store = ElementStore(tmp_path)
    els = [page("a.pdf", 1), Element("f1", "a.pdf", "sha", 1, "figure", (0, 0, 1, 1), meta={"label": "Figure 3"})]
    store.begin_document("a.pdf", "a.pdf", "sha", 1, els)
    assert store.referenced_elements(["a.pdf"], "figure", "3") == []  # not ready yet
    assert store.referenced_elements(["a.pdf"], "first", "1") == []
    store.finish_document("a.pdf")
    assert store.referenced_elements(["a.pdf"], "figure", "3") == ["f1"]
    with pytest.raises(ValueError):
        store.referenced_elements(["a.pdf"], "chapter", "3")


def test_what_references_read_is_refreshed_when_a_document_changes(store: ElementStore) -> None:
    assert pages(store, "last", "-1", docs=("d.pdf",)) == [("d.pdf", 6)]
    els = [page("d.pdf", n) for n in range(1, 4)]
    store.begin_document("d.pdf", "d.pdf", "shad2", 3, els)
    assert pages(store, "last", "-1", docs=("d.pdf",)) == []  # being rewritten: not seen
    store.finish_document("d.pdf")
    assert pages(store, "last", "-1", docs=("d.pdf",)) == [("d.pdf", 3)]
    store.delete_document("d.pdf")
    assert pages(store, "first", "1") == [("r.pdf", 1)]


def test_sections_resolve_to_their_pages(tmp_path: Path) -> None:
    store = ElementStore(tmp_path)
    part1, risk, part2, mdna, liq = (["PART I"], ["PART I", "Item 1A. Risk Factors"], ["PART II"],
                                     ["PART II", "Item 7. Management's Discussion"],
                                     ["PART II", "Item 7. Management's Discussion", "Liquidity and Capital Resources"])
    contents = [part1, risk, part2, mdna]  # a contents page whose lines read as headings: one page, it loses
    sections = [[["Contents"], *contents], [part1], [part1, risk], [risk], [risk, part2, mdna], [mdna, liq], [liq],
                [["PART IV", "Exhibits"]]]
    els = [Element(f"k-p{n}", "k.pdf", "shak", n, "page", (0, 0, 1, 1), text=f"page {n}", meta={"sections": s})
           for n, s in enumerate(sections, start=1)]
    store.begin_document("k.pdf", "k.pdf", "shak", len(els), els)
    store.finish_document("k.pdf")

    def named(kind: str, value: str) -> list[int]:
        found = store.get(store.referenced_elements(["k.pdf"], kind, value))
        return sorted(e.page for e in found.values())

    assert named("section", "part 2") == [5, 6, 7]
    assert named("section_start", "part 2") == [5]
    assert named("section_end", "part 1") == [5]
    assert named("section", "risk factor") == [3, 4, 5]
    assert named("section_start", "item 1a") == [3]
    assert named("section", "liquidity") == [6, 7]  # the best-covered title ("Liquidity and Capital Resources")
    assert named("section", "part 3") == [] and named("section", "segment") == []
