"""The index pipeline on the sample corpus: what ingest finds, channels, search, remove and re-add."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mmrag.pipelines.index import MMIndex, open_index
from mmrag.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
TRUTH = json.loads((SAMPLE / "truth.json").read_text())


def iou(a: tuple[float, ...], b: list[float]) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def match(found: list, truth: list[dict]) -> tuple[float, float]:
    """Recall of the truth boxes (IoU >= 0.5 on the same page) and share of found boxes that match none."""
    hit = sum(any(e.page == t["page"] and iou(e.bbox, t["bbox"]) >= 0.5 for e in found) for t in truth)
    spurious = sum(not any(e.page == t["page"] and iou(e.bbox, t["bbox"]) >= 0.5 for t in truth) for e in found)
    return hit / len(truth), spurious / max(len(found), 1)


def test_every_figure_table_and_page_is_found(sample_index: MMIndex) -> None:
    info = sample_index.inspect()
    assert info["documents"] == len(TRUTH["docs"])
    assert info["pages"] == sum(d["pages"] for d in TRUTH["docs"].values())
    assert info["elements"]["page"] == info["pages"]
    for kind in ("figure", "table"):
        hits = spurious = found_total = truth_total = 0
        for doc, truth in TRUTH["docs"].items():
            found = list(sample_index.store.elements(doc=doc, kinds=[kind]))
            expected = truth[kind + "s"]
            if not expected:
                spurious += len(found)
                found_total += len(found)
                continue
            recall, spurious_share = match(found, expected)
            hits += recall * len(expected)
            spurious += spurious_share * len(found)
            found_total += len(found)
            truth_total += len(expected)
        assert hits / truth_total >= 0.95, (kind, hits, truth_total)
        assert spurious / max(found_total, 1) <= 0.10, (kind, spurious, found_total)


def test_captions_are_linked(sample_index: MMIndex) -> None:
    for doc, truth in TRUTH["docs"].items():
        found = list(sample_index.store.elements(doc=doc, kinds=["figure", "table"]))
        for t in truth["figures"] + truth["tables"]:
            best = max(found, key=lambda e: iou(e.bbox, t["bbox"]) if e.page == t["page"] else -1)
            label = t["caption"].split(":")[0].split(" –")[0].split(".")[0]
            assert best.caption.startswith(label), (doc, t["caption"], best.caption)


def test_scanned_page_is_ocrd(sample_index: MMIndex) -> None:
    for doc, truth in TRUTH["docs"].items():
        for page in truth["scanned_pages"]:
            texts = [e for e in sample_index.store.elements(doc=doc, kinds=["text"]) if e.page == page]
            assert texts and sum(len(e.text) for e in texts) > 200


def test_both_channels_are_built_and_recorded(sample_index: MMIndex) -> None:
    info = sample_index.inspect()
    assert set(sample_index.channels) == {"text", "image"}
    manifest = json.loads((sample_index.root / "manifest.json").read_text())
    assert manifest["channels"]["image"]["status"] == "enabled"
    assert manifest["channels"]["text"]["fingerprint"]["model"] == "BAAI/bge-small-en-v1.5"
    assert info["channels"]["image"]["status"] == "enabled"
    n_images = sum(info["elements"].get(k, 0) for k in sample_index.settings.image.kinds)
    assert sample_index.channels["image"].describe()["vectors"] == n_images


def test_caption_query_puts_its_figure_first(sample_index: MMIndex) -> None:
    doc, truth = next(iter(TRUTH["docs"].items()))
    fig = truth["figures"][0]
    phrase = re.sub(r"^(Figure|Fig\.)\s*\d+[:.]\s*", "", fig["caption"]).rstrip(".")
    assert phrase and phrase != fig["caption"]
    hits = sample_index.search(phrase, channel="text", k=3)
    assert hits[0].element.kind == "figure" and hits[0].element.page == fig["page"], phrase
    fused = sample_index.search(phrase, k=3)
    assert fused[0].element.kind == "figure" and fused[0].element.page == fig["page"]
    assert set(fused[0].channels) == {"text", "image"}


def test_filters_apply_inside_the_channels(sample_index: MMIndex) -> None:
    docs = sorted(TRUTH["docs"])
    hits = sample_index.search("table of results", docs=[docs[1]], kinds=["table"], k=5)
    assert hits and all(h.element.doc == docs[1] and h.element.kind == "table" for h in hits)
    hits = sample_index.search("chart", docs=[docs[0]], pages=(2, 3), k=5)
    assert hits and all(h.element.doc == docs[0] and 2 <= h.element.page <= 3 for h in hits)


def test_remove_then_readd_gives_the_same_results(tmp_path: Path, corpus_copy: Path, tiny_settings: Settings) -> None:
    pdfs = sorted(corpus_copy.glob("*.pdf"))[:2]
    folder = tmp_path / "two"
    folder.mkdir()
    for p in pdfs:
        shutil.copy(p, folder / p.name)
    index = open_index(tmp_path / "idx", tiny_settings)
    index.add([folder])
    query = "table with the largest values"
    exact = ("text:dense", "text:lexical", "image")
    before = [(h.element.id, h.score) for h in index.search(query, k=8)]
    before_exact = {c: [(h.element.id, h.score) for h in index.search(query, channel=c, k=8)] for c in exact}
    pixels_before = sorted(p.name for p in (index.root / "pixels").rglob("*.png"))
    assert index.remove(pdfs[0].name)
    assert all(h.element.doc != pdfs[0].name for h in index.search(query, k=8))
    assert pdfs[0].name not in index.channels["text"].docs() | index.channels["image"].docs()
    report = index.add([folder])
    assert report.added == [pdfs[0].name] and report.unchanged == [pdfs[1].name]
    # Every channel gives back what it gave, BM25 too: removing half the points vacuumed them out of its statistics
    # (VACUUM_DELETED_SHARE), where they had raised the re-added document's lexical scores (7.22 -> 7.84).
    assert {c: [(h.element.id, h.score) for h in index.search(query, channel=c, k=8)] for c in exact} == before_exact
    after = [(h.element.id, h.score) for h in index.search(query, k=8)]
    assert [i for i, _ in after] == [i for i, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before], rel=1e-6)
    assert sorted(p.name for p in (index.root / "pixels").rglob("*.png")) == pixels_before
    index.close()


def test_changed_file_replaces_its_elements(tmp_path: Path, corpus_copy: Path) -> None:
    import pymupdf

    pdf = tmp_path / "note.pdf"
    for text in ("The zephyr turbine spins at 42 rpm.", "The aurora pump delivers 7 litres per second."):
        with pymupdf.open() as d:
            d.new_page().insert_text((72, 72), text)
            d.save(pdf)
        index = open_index(tmp_path / "idx", Settings().updated({"image.enabled": False}))
        report = index.add([pdf])
        assert report.added == ["note.pdf"]
        index.close()
    index = open_index(tmp_path / "idx")
    texts = " ".join(e.text for e in index.store.elements(doc="note.pdf"))
    assert "aurora" in texts and "zephyr" not in texts
    assert index.search("zephyr turbine", channel="text", k=5)[0].element.text.find("aurora") >= 0
    index.close()


def test_model_change_is_detected_and_reembed_fixes_it(tmp_path: Path, corpus_copy: Path,
                                                       tiny_settings: Settings) -> None:
    import pytest

    from mmrag.errors import StaleVectors

    pdf = corpus_copy / "finfet_yield_paper.pdf"
    index = open_index(tmp_path / "idx", tiny_settings)
    index.add([pdf])
    n_before = index.channels["image"].describe()["vectors"]
    index.close()
    figures_only = tiny_settings.updated({"image.kinds": ["figure"]})
    with pytest.raises(StaleVectors, match="reembed"):
        open_index(tmp_path / "idx", figures_only).add([pdf])
    index = open_index(tmp_path / "idx", figures_only, reset_stale=True)
    assert index.reembed() == 1
    n_figures = index.store.counts()["figure"]
    assert index.channels["image"].describe()["vectors"] == n_figures < n_before
    assert index.add([pdf]).unchanged == ["finfet_yield_paper.pdf"]  # nothing stale any more
    hits = index.search("wafer yield", channel="image", k=50)
    assert hits and {h.element.kind for h in hits} == {"figure"}
    index.close()


def test_captioner_describes_figures_once_per_pixels(tmp_path: Path, corpus_copy: Path) -> None:
    from mmrag.generators.random_qwen2vl import build_random_qwen2vl

    model, processor = build_random_qwen2vl("tiny")
    model.save_pretrained(tmp_path / "vlm")
    processor.save_pretrained(tmp_path / "vlm")
    settings = Settings().updated({"image.enabled": False, "captioner.model": str(tmp_path / "vlm"),
                                   "captioner.max_new_tokens": 3, "captioner.device": "cpu"})
    index = open_index(tmp_path / "idx", settings)
    index.add([corpus_copy / "finfet_yield_paper.pdf"])
    figures = list(index.store.elements(kinds=["figure"]))
    cached = index.store.db.execute("SELECT COUNT(*) FROM cache WHERE key NOT LIKE 'ocr:%'").fetchone()[0]  # not OCR
    assert figures and cached == len({f.image for f in figures})
    for f in figures:
        if f.meta.get("generated_caption"):
            assert "[generated description]" in f.text
    index.close()


def test_an_index_stored_before_element_tokens_keeps_whole_element_vectors(tmp_path: Path) -> None:
    """Its manifest's settings have no text.element_tokens: it opens with 0 (what its vectors were made with), so
    its fingerprint matches and nothing is reported stale; a new index gets the default."""
    from mmrag.pipelines.manifest import resolve_settings
    from mmrag.settings import Settings

    stored = Settings().to_dict()
    assert stored["text"]["element_tokens"] == 384
    del stored["text"]["element_tokens"]
    assert resolve_settings(tmp_path, {"settings": stored}).text.element_tokens == 0
    kept = Settings().to_dict()
    kept["text"]["element_tokens"] = 128
    assert resolve_settings(tmp_path, {"settings": kept}).text.element_tokens == 128
    assert resolve_settings(tmp_path, None).text.element_tokens == 384
