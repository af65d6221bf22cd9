"""The query path on the sample corpus: fusion, quotas, answers with citations, LangChain, a tiny VLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmrag.generators.transformers_vlm import TransformersVLMGenerator
from mmrag.langchain import MMRagRetriever
from mmrag.pipelines.index import MMIndex
from mmrag.settings import QuerySettings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
QUESTIONS = [json.loads(line) for line in (SAMPLE / "questions.jsonl").read_text().splitlines()]


def question(qid: str) -> dict:
    return next(q for q in QUESTIONS if q["id"] == qid)


def test_fused_hits_keep_each_channels_evidence_and_collapse_pages(sample_index: MMIndex) -> None:
    hits = sample_index.search("installed solar capacity by grid region", k=10)
    pages = [(h.element.doc, h.element.page) for h in hits]
    assert len(pages) == len(set(pages)), "one hit per page"
    assert any(set(h.channels) == {"text", "image"} for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for h in hits:
        assert h.pixels_path and Path(h.pixels_path).exists()


def test_kind_quota_reaches_figures_and_tables(sample_index: MMIndex) -> None:
    hits = sample_index.search("summary of the report conclusions and outlook", k=6)
    kinds = {h.element.kind for h in hits}
    assert {"figure", "table"} <= kinds


def test_filters_hold_for_fused_search(sample_index: MMIndex) -> None:
    hits = sample_index.search("chart", docs=["finfet_yield_paper.pdf"], kinds=["figure"], k=5)
    assert hits and all(h.element.doc == "finfet_yield_paper.pdf" and h.element.kind == "figure" for h in hits)


def test_extractive_answer_cites_the_table_row(sample_index: MMIndex) -> None:
    q = question("q5")
    answer = sample_index.ask(q["question"], docs=[q["doc"]])
    assert answer.generator == "extractive" and answer.supported
    assert q["answer"] in answer.text.splitlines()[1]
    assert any(c.page in q["pages"] and c.kind == "table" for c in answer.citations)
    context_ids = {h.element.id for h in answer.hits}
    assert {c.element_id for c in answer.citations} <= context_ids


def test_unsupported_question_says_so(sample_index: MMIndex) -> None:
    answer = sample_index.ask("zzqx vorpal snickersnee?")
    assert not answer.supported and "do not contain" in answer.text


def test_langchain_retriever_returns_documents_with_pixels(sample_index: MMIndex) -> None:
    docs = MMRagRetriever(index=sample_index, k=3).invoke("adverse events by treatment arm")
    assert len(docs) == 3
    meta = docs[0].metadata
    assert {"doc", "page", "kind", "bbox", "element_id", "image_path"} <= set(meta)
    assert Path(meta["image_path"]).exists() and docs[0].page_content


def test_tiny_vlm_gets_pixels_and_fenced_context(sample_index: MMIndex) -> None:
    from mmrag.generators.random_qwen2vl import build_random_qwen2vl

    model, processor = build_random_qwen2vl("tiny")
    generator = TransformersVLMGenerator(model, processor, model_name="tiny-qwen2-vl", max_images=2,
                                         max_new_tokens=4, max_context_chars=1500)
    q = question("q1")
    hits = sample_index.search(q["question"], docs=[q["doc"]], k=4)
    inputs = generator.build_inputs(q["question"], hits)
    assert len(inputs.images) == 2 and "pixel_values" in inputs.tensors
    assert "<document source=" in inputs.prompt and q["question"] in inputs.prompt
    answer = generator.generate(q["question"], hits)
    assert answer.generator.startswith("transformers")
    assert {c.element_id for c in answer.citations} <= {h.element.id for h in hits}


def test_reranker_stage_reorders_fused_hits(sample_index: MMIndex, tmp_path: Path) -> None:
    from factories import tiny_cross_encoder

    words = "solar capacity region installed battery storage project table figure".split()
    sample_index.settings.query.reranker = tiny_cross_encoder(tmp_path, words)
    try:
        hits = sample_index.search("installed solar capacity by region", k=5)
    finally:
        sample_index.settings.query.reranker = None
    assert len(hits) == 5 and all("rerank" in h.channels for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # the cross-encoder's order is fused with the first stage's (RRF): each hit has its own rerank rank, not
    # necessarily the five best (a first-stage rank 1 with rerank rank 6 beats rank 15 with rerank rank 5)
    ranks = [h.channels["rerank"]["rank"] for h in hits]
    assert len(set(ranks)) == 5 and max(ranks) <= sample_index.settings.query.rerank_depth


def test_a_named_page_or_figure_comes_first(sample_index: MMIndex) -> None:
    doc = ["solar_outlook_2024.pdf"]
    hits = sample_index.search("What does the chart on page 3 show?", docs=doc, k=5)
    assert (hits[0].element.doc, hits[0].element.page) == ("solar_outlook_2024.pdf", 3)
    assert "reference" in hits[0].channels
    refs = sample_index.search_result("What does the chart on page 3 show?", docs=doc, k=5).references
    assert [(r.kind, r.value) for r in refs] == [("page", "3")]  # what search acted on, as `search --json` shows
    hits = sample_index.search("What does Figure 1 plot?", docs=doc, k=5)
    assert hits[0].element.page == 2 and hits[0].element.kind == "figure"
    assert hits[0].element.meta.get("label") == "Figure 1"
    last = sample_index.search("What is on the last page?", docs=doc, k=5)
    assert last[0].element.page == 6


def test_references_are_ignored_when_switched_off(sample_index: MMIndex) -> None:
    from dataclasses import replace

    settings = sample_index.settings
    sample_index.settings = replace(settings, query=replace(settings.query, references=False))
    try:
        hits = sample_index.search("What does the chart on page 3 show?", docs=["solar_outlook_2024.pdf"], k=5)
        assert all("reference" not in h.channels for h in hits)
    finally:
        sample_index.settings = settings


def test_text_sides_come_from_one_query_encoding(sample_index: MMIndex) -> None:
    encoder = sample_index.channels["text"].encoder
    calls = []
    original = encoder.encode_query

    def counting(text: str):
        calls.append(text)
        return original(text)

    encoder.encode_query = counting
    try:
        sample_index.search("battery storage capacity of the solar project", k=5)
    finally:
        del encoder.encode_query
    assert len(calls) == 1, "the fused query (sides and quota candidates) encodes the query once"


def test_glossary_terms_reach_the_lexical_side(sample_index: MMIndex, tmp_path: Path) -> None:
    from dataclasses import replace

    # "zorblax" is on no page: with a glossary that maps it to the words the page uses, BM25 finds the page.
    glossary = tmp_path / "g.toml"
    glossary.write_text('[[term]]\nmatch = ["zorblax"]\nadd = "battery storage MWh"\n')
    settings = sample_index.settings
    query = "zorblax of the Redwood Gate project"
    before = sample_index.search(query, channel="text:lexical", k=5)
    sample_index.settings = replace(settings, query=replace(settings.query, glossary=str(glossary)))
    try:
        after = sample_index.search(query, channel="text:lexical", k=5)
        fused = sample_index.search(query + " If it is not given, say so and explain why.", k=3)
    finally:
        sample_index.settings = settings
    answer = question("q5")
    assert (after[0].element.doc, after[0].element.page) in {(answer["doc"], p) for p in answer["pages"]}
    assert [h.element.id for h in before] != [h.element.id for h in after]
    assert (fused[0].element.doc, fused[0].element.page) == (after[0].element.doc, after[0].element.page)


def test_glossary_terms_move_the_dense_query_unless_turned_off(sample_index: MMIndex, tmp_path: Path) -> None:
    from dataclasses import replace

    glossary = tmp_path / "g.toml"
    glossary.write_text('[[term]]\nmatch = ["zorblax"]\nadd = "battery storage MWh"\n')
    settings = sample_index.settings
    query = "zorblax of the Redwood Gate project"
    runs = {}
    try:
        for dense in (True, False):
            q = replace(settings.query, glossary=str(glossary), glossary_dense=dense)
            sample_index.settings = replace(settings, query=q)
            runs[dense] = sample_index.search(query, channel="text:dense", k=5)
    finally:
        sample_index.settings = settings
    alone = sample_index.search(query, channel="text:dense", k=5)
    def scored(hits: list) -> list[tuple[str, float]]:
        return [(h.element.id, round(h.score, 5)) for h in hits]

    assert scored(runs[False]) == scored(alone)
    assert [h.score for h in runs[True]] != [h.score for h in runs[False]]
    answer = question("q5")
    assert (runs[True][0].element.doc, runs[True][0].element.page) in {(answer["doc"], p) for p in answer["pages"]}


def test_the_sides_fused_per_element_are_one_more_ranking(sample_index: MMIndex) -> None:
    from mmrag.fusion import fuse, rrf_ranking
    from mmrag.pipelines.query import retrieve

    r = retrieve(sample_index.parts, "battery storage capacity of the solar project", ["text"], None, 20)
    sides = {n: h for n, h in r.rankings.items() if n in ("text:dense", "text:lexical")}
    assert set(r.rankings) == {"text:dense", "text:lexical", "text:rrf"}
    expected = [u.key for u in fuse(sides, method="rrf", rrf_k=60, key=lambda h: h.element_id)]
    assert [h.element_id for h in rrf_ranking(sides, "text:rrf")] == expected
    assert [h.rank for h in r.rankings["text:rrf"]] == list(range(1, len(r.rankings["text:rrf"]) + 1))
    hits = sample_index.search("battery storage capacity of the solar project", k=3)
    assert "rrf_rank" in hits[0].channels["text"]  # it took part in the fused ranking
    single = sample_index.search("battery storage capacity of the solar project", channel="text", k=3)
    assert all("rrf_rank" not in h.channels.get("text", {}) for h in single)  # not in a channel's own ranking


def test_a_page_beside_a_strong_hit_gains_from_it() -> None:
    from mmrag.fusion import FusedItem
    from mmrag.pipelines.query import add_neighbour_bonus

    units = [FusedItem(("a.pdf", 3), 1.0), FusedItem(("a.pdf", 9), 0.5), FusedItem(("b.pdf", 4), 0.46),
             FusedItem(("a.pdf", 4), 0.45)]
    ranked = add_neighbour_bonus(units, 0.5)
    assert [u.key for u in ranked] == [("a.pdf", 3), ("a.pdf", 4), ("a.pdf", 9), ("b.pdf", 4)]
    # half the gap to the better neighbour, as fused before any bonus; the stronger page gains nothing
    assert [round(u.score, 3) for u in ranked] == [1.0, 0.725, 0.5, 0.46]
    assert [u.key for u in add_neighbour_bonus([FusedItem(("a.pdf", 3), 1.0), FusedItem(("b.pdf", 4), 0.5),
                                                FusedItem(("b.pdf", 2), 0.46)], 0.5)][1] == ("b.pdf", 4)


def test_two_strong_neighbours_do_not_lift_each_other_past_a_better_page() -> None:
    from mmrag.fusion import FusedItem
    from mmrag.pipelines.query import add_neighbour_bonus

    units = [FusedItem(("a.pdf", 21), 3.88), FusedItem(("a.pdf", 37), 3.53), FusedItem(("a.pdf", 36), 3.52)]
    ranked = add_neighbour_bonus(units, 0.5)
    assert [u.key[1] for u in ranked] == [21, 37, 36]
    assert ranked[2].score < ranked[1].score == 3.53


def test_neighbour_bonus_reorders_the_fused_pages_of_a_real_query(sample_index: MMIndex) -> None:
    from dataclasses import replace

    from mmrag.pipelines.query import add_neighbour_bonus, rank_units, retrieve

    r = retrieve(sample_index.parts, "ridership by line and station", list(sample_index.channels), None, 20)
    cfg = replace(sample_index.settings.query, kind_quota={})
    plain = rank_units(r, replace(cfg, neighbour_bonus=0.0))
    expected = [u.key for u in add_neighbour_bonus(plain, 0.5)]
    boosted = [u.key for u in rank_units(r, replace(cfg, neighbour_bonus=0.5))]
    assert boosted == expected and boosted != [u.key for u in rank_units(r, replace(cfg, neighbour_bonus=0.0))]
    assert sample_index.settings.query.neighbour_bonus == 0.5  # on by default


@pytest.mark.parametrize(("query", "phrases"), [
    ("In the word cloud answering 'what is open science?', which word is orange?", ["what is open science"]),
    ("Which stage holds 'sign images' and “check integrity”?", ["sign images", "check integrity"]),
    ("In the timeline of the library's history, what's marked for 1.0?", []),  # apostrophes open no quote
    ('The "x" axis and the "Revenue" bar', []),  # a short single word is no phrase
    ("Where is 'Kubernetes' configured?", ["kubernetes"]),
])
def test_quoted_phrases(query: str, phrases: list[str]) -> None:
    from mmrag.pipelines.query import quoted_phrases

    assert quoted_phrases(query) == phrases


def test_a_quoted_phrase_lifts_the_page_that_holds_it() -> None:
    from mmrag.elements import ChannelHit, Element
    from mmrag.pipelines.query import PHRASE, Retrieval, rank_units
    from mmrag.query_rewrite import RewrittenQuery

    def page(n: int, text: str) -> Element:
        return Element(id=f"p{n}", doc="deck.pdf", doc_sha256="x", page=n, kind="page", bbox=(0, 0, 1, 1), text=text)

    pages = [page(9, "Open science barriers"), page(2, "How do you define open science? Tell us."),
             page(10, "What is Open Science?")] + [page(n, f"Open data, part {n}") for n in range(11, 18)]
    elements = {e.id: e for e in pages}
    dense = [e.id for e in pages]  # the quoted page third, after two pages about open science in other words
    lexical = [dense[0], dense[2], dense[1], *dense[3:]]
    rankings = {name: [ChannelHit(eid, 1.0 - i / 10, i + 1, name) for i, eid in enumerate(order)]
                for name, order in (("text:dense", dense), ("text:lexical", lexical))}
    query = "In the word cloud answering 'what is open science?', which word is orange?"
    cfg = QuerySettings(neighbour_bonus=0.0, kind_quota={})
    quoted = rank_units(Retrieval(rankings, elements, RewrittenQuery(query, query, "", (), "")), cfg)
    assert quoted[0].key == ("deck.pdf", 10) and PHRASE in quoted[0].channels
    plain = query.replace("'", "")
    unquoted = rank_units(Retrieval(rankings, elements, RewrittenQuery(plain, plain, "", (), "")), cfg)
    assert unquoted[0].key == ("deck.pdf", 9)


def test_a_quoted_phrase_joins_the_fusion_of_a_real_query(sample_index: MMIndex) -> None:
    from mmrag.pipelines.query import PHRASE, phrase_ranking, rank_units, retrieve

    r = retrieve(sample_index.parts, "Which monthly figure mentions 'Route 40'?", list(sample_index.channels), None, 20)
    hits = phrase_ranking(r)
    assert hits and all("route 40" in r.elements[h.element_id].searchable_text().lower() for h in hits)
    top = rank_units(r, sample_index.settings.query)[0]
    assert top.key == ("transit_ridership_2023.pdf", 3) and PHRASE in top.channels


def test_the_statement_a_question_implies_gains_its_weight() -> None:
    from dataclasses import replace

    from mmrag.elements import ChannelHit, Element
    from mmrag.pipelines.query import STATEMENT, Retrieval, rank_units
    from mmrag.query_rewrite import RewrittenQuery

    def page(n: int) -> Element:
        return Element(id=f"p{n}", doc="10k.pdf", doc_sha256="x", page=n, kind="page", bbox=(0, 0, 1, 1), text="")

    elements = {f"p{n}": page(n) for n in range(1, 9)}
    order = ["p3", "p7", "p1", "p5", "p2"]  # the balance sheet (p5) fourth: notes and discussion repeat its words
    rankings = {name: [ChannelHit(eid, 1.0 - i / 10, i + 1, name) for i, eid in enumerate(order)]
                for name in ("text:dense", "text:lexical")}
    question = "What is the quick ratio?"
    rq = RewrittenQuery(question, question, statements=("balance sheet",))
    r = Retrieval(rankings, elements, rq, statement=[ChannelHit("p5", 1.0, 1, STATEMENT)])
    cfg = QuerySettings(neighbour_bonus=0.0, kind_quota={})
    assert cfg.statement_weight == 2.0  # on by default
    lifted = rank_units(r, cfg)
    assert lifted[0].key == ("10k.pdf", 5) and STATEMENT in lifted[0].channels
    assert [u.key[1] for u in rank_units(r, replace(cfg, statement_weight=0.0))][:4] == [3, 7, 1, 5]
    assert rank_units(r, cfg, fused_mode=False)[0].key == "p3"  # a channel's own ranking has no prior


def test_statement_pages_join_the_fusion_of_a_real_query(sample_index: MMIndex, tmp_path: Path) -> None:
    from dataclasses import replace

    from mmrag.pipelines import query as Q

    # a glossary whose "project list" statement opens solar_outlook p4 ("3 Largest Projects"), implied by "zorblax"
    glossary = tmp_path / "g.toml"
    glossary.write_text("[[statement]]\nname = \"project list\"\ntitle = 'largest\\s+projects'\n"
                        "[[term]]\nmatch = ['zorblax']\nstatements = [\"project list\"]\n")
    settings = sample_index.settings
    doc = "solar_outlook_2024.pdf"
    query = "zorblax: what is the outlook for new capacity?"
    results = {}
    reads: list[list[str]] = []
    store = sample_index.parts.store
    page_ends = store.page_ends
    try:
        store.page_ends = lambda docs: reads.append(list(docs)) or page_ends(docs)  # type: ignore[method-assign]
        for weight in (0.0, 2.0):
            sample_index.settings = replace(settings, query=replace(settings.query, glossary=str(glossary),
                                                                     statement_weight=weight))
            results[weight] = sample_index.search_result(query, docs=[doc], k=5)
        unscoped = sample_index.search_result(query, k=5)  # no filter: the documents of the top hits
    finally:
        sample_index.settings = settings
        del store.page_ends
    top = {w: (r.hits[0].element.doc, r.hits[0].element.page) for w, r in results.items()}
    assert top[0.0] != (doc, 4) and top[2.0] == (doc, 4)
    assert "statement" in results[2.0].hits[0].channels and results[2.0].query.statements == ("project list",)
    assert (unscoped.hits[0].element.doc, unscoped.hits[0].element.page) == (doc, 4)
    read = [d for docs in reads for d in docs]
    assert read[0] == doc and len(read) == len(set(read)), "each document's statement pages are found once, then kept"
    plain = sample_index.search_result("what is the outlook for new capacity?", docs=[doc], k=5)
    assert plain.query.statements == () and all("statement" not in h.channels for h in plain.hits)
    assert Q.STATEMENT == "statement"
