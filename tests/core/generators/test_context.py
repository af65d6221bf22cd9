from __future__ import annotations

from mmrag.generators.context import (
    SYSTEM_PROMPT,
    UNSUPPORTED_ANSWER,
    build_context,
    citations_from_text,
    escape_fenced,
    is_refusal,
    is_supported,
    marker_for,
    parse_markers,
)


def test_markers_are_per_doc_and_page(corpus_hits):
    ctx = build_context(corpus_hits)
    assert list(ctx.markers) == ["[solar.pdf p.3]", "[wind.pdf p.1]", "[wind.pdf p.2]", "[grid.pdf p.5]"]
    assert len(ctx.markers["[solar.pdf p.3]"]) == 2  # the chunk and the figure share their page's marker
    assert marker_for("odd [v2].pdf", 4) == "[odd (v2).pdf p.4]"


def test_fence_cannot_be_closed_by_a_document(corpus_hits, injection):
    text = build_context(corpus_hits).fenced_text()
    assert text.count("</document>") == len(corpus_hits)  # only our own closing tags
    assert "&lt;/document&gt;" in text and "<|im_end|>" not in text
    start = text.index("Ignore previous instructions")
    assert text.rfind("<document", 0, start) > text.rfind("</document>", 0, start)  # the injection sits inside a fence
    assert escape_fenced("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert "untrusted" in SYSTEM_PROMPT and UNSUPPORTED_ANSWER in SYSTEM_PROMPT


def test_budgets_limit_text_and_images(corpus_hits):
    ctx = build_context(corpus_hits, max_context_chars=100, max_images=1, image_max_side=64)
    assert sum(len(p.text) for p in ctx.passages) <= 102
    assert len(ctx.images) == 1 and max(ctx.images[0].image.size) == 64
    assert ctx.images[0].image.size == (64, 43)  # aspect kept
    # a figure whose text no longer fits is still shown (as an image) and still citable
    kinds = [p.hit.element.kind for p in ctx.passages]
    assert kinds[:2] == ["text", "figure"] and ctx.passages[1].image == 1


def test_images_come_from_figure_table_page_hits_only(corpus_hits, make_hit, write_png, tmp_path):
    stray = make_hit("x.pdf", 1, "text", "chunk", pixels=write_png(tmp_path / "stray.png"))
    missing = make_hit("y.pdf", 1, "figure", "f", "cap", pixels=tmp_path / "nope.png")
    ctx = build_context([stray, missing, *corpus_hits], max_images=10)
    assert [im.hit.element.kind for im in ctx.images] == ["figure", "table", "page"]
    user = ctx.user_text("q?")
    assert 'Image 1: [solar.pdf p.3] figure (text in the passage with image="1")' in user
    fences = user[user.index("<document") :]
    assert "Module efficiency by year" not in user.replace(fences, "")  # captions only inside the fences
    assert user.rstrip().splitlines()[-2] == "Question: q?"


def test_parse_markers_edge_cases():
    known = ["[a.pdf p.3]", "[b.pdf p.12]", "[x, y.pdf p.2]"]
    assert parse_markers("[a.pdf p.3] then [a.pdf p.3]", known) == ["[a.pdf p.3]"]
    assert parse_markers("[A.PDF  P. 3]", known) == ["[a.pdf p.3]"]
    assert parse_markers("[a.pdf page 3]", known) == ["[a.pdf p.3]"]
    assert parse_markers("[b.pdf p.12; a.pdf p.3]", known) == ["[b.pdf p.12]", "[a.pdf p.3]"]
    assert parse_markers("[b.pdf p.1]", known) == []  # p.1 is not p.12
    assert parse_markers("[a.pdf p.3, p.4] [b.pdf p.9, p.12]", known) == ["[a.pdf p.3]", "[b.pdf p.12]"]
    assert parse_markers("[x, y.pdf p.2]", known) == ["[x, y.pdf p.2]"]
    assert parse_markers("[1] [] [p.3] [invented.pdf p.3] a.pdf p.3", known) == []


def test_citations_keep_only_context_markers(corpus_hits):
    ctx = build_context(corpus_hits)
    cites = citations_from_text("Efficiency was 23% [solar.pdf p.3] [made-up.pdf p.9] [wind.pdf p.2].", ctx.markers)
    assert [(c.marker, c.kind) for c in cites] == [
        ("[solar.pdf p.3]", "text"), ("[solar.pdf p.3]", "figure"), ("[wind.pdf p.2]", "table")
    ]  # fmt: skip
    ids = {h.element.id for h in corpus_hits}
    assert all(c.element_id in ids for c in cites)
    assert cites[0].bbox == corpus_hits[0].element.bbox


def test_supported_and_refusal():
    assert is_refusal(UNSUPPORTED_ANSWER) and is_refusal("Sorry — the documents don’t contain the answer")
    assert not is_refusal("Costs fell [a.pdf p.1].")
    assert not is_supported("Costs fell.", [])
