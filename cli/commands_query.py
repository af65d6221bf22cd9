"""`mmrag search` and `mmrag ask`: ranked hits, and answers with citations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mmrag.cli.console import cli_errors, console, out, setup_logging
from mmrag.cli.flags import IndexOpt, JsonOpt, open_index, parse_choices, parse_list, parse_pages
from mmrag.elements import KINDS


@cli_errors
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    index: IndexOpt = Path("idx"),
    channel: Annotated[str, typer.Option(
        help="all (fused), text, image, pages, or one side: text:dense, text:lexical.")] = "all",
    doc: Annotated[str | None, typer.Option(help="Only these documents (comma-separated).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only these kinds: text,figure,table,page.")] = None,
    pages: Annotated[str | None, typer.Option(help="Page range, e.g. 3-5.")] = None,
    k: Annotated[int, typer.Option(help="How many hits.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Retrieve ranked elements with their channel scores."""
    setup_logging(False)
    from mmrag.pipelines.query import CHANNEL_CHOICES

    parse_choices("--channel", channel, CHANNEL_CHOICES)
    kinds = parse_choices("--kind", kind, KINDS)
    with open_index(index, read_only=True) as idx:
        result = idx.search_result(query, channel=channel, docs=parse_list(doc), kinds=kinds,
                                   pages=parse_pages("--pages", pages), k=k)
    hits, refs, searched = result.hits, result.references, result.query
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
        return
    if searched.dropped:
        out.print(f"left out of the search (answer instructions): {searched.dropped}", markup=False)
    if searched.glossary_matches:
        out.print("glossary: " + ", ".join(searched.glossary_matches)
                  + f" → +{searched.lexical_terms!r} ("
                  + ("lexical and dense sides" if searched.dense_terms else "lexical side") + ")", markup=False)
    if searched.statements and any("statement" in h.channels for h in hits):
        out.print("statements: " + ", ".join(searched.statements) + " (their pages ranked too)", markup=False)
    if refs:
        out.print("references: " + ", ".join(f"{r.kind} {r.value} ({r.text!r})" for r in refs), markup=False)
    t = Table(title=f"search: {query}")
    for col in ("#", "doc", "page", "kind", "score", "channels", "text"):
        t.add_column(col, overflow="fold")
    for i, h in enumerate(hits, start=1):
        ch = " ".join(f"{n}#{int(c['rank'])}" for n, c in h.channels.items())
        text = h.element.searchable_text().replace("\n", " ")
        e = h.element
        t.add_row(str(i), escape(e.doc), str(e.page), e.kind, f"{h.score:.4f}", ch, escape(text[:100]))
    out.print(t)


@cli_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    index: IndexOpt = Path("idx"),
    doc: Annotated[str | None, typer.Option(help="Only these documents (comma-separated).")] = None,
    k: Annotated[int, typer.Option(help="How many hits go to the generator.")] = 6,
    generator: Annotated[str, typer.Option(help="auto, transformers, openai or extractive.")] = "auto",
    model: Annotated[str | None, typer.Option(help="Generator model (name, path or server model id).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL, e.g. vLLM or Ollama.")] = None,
    show_images: Annotated[bool, typer.Option(help="Write the cited crops and pages with boxes drawn.")] = False,
    images_dir: Annotated[Path, typer.Option(help="Where --show-images writes.")] = Path("mmrag_cited"),
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the index, with citations."""
    setup_logging(False)
    overrides = {"generator.backend": generator, "generator.model": model, "generator.base_url": base_url}
    with open_index(index, read_only=True, **overrides) as idx:
        answer = idx.ask(question, docs=parse_list(doc), k=k)
        written = _write_cited_images(idx, answer, images_dir) if show_images else []
    data = answer.to_dict()
    if show_images:
        data["images"] = written
    if as_json:
        out.print_json(json.dumps(data))
        return
    from mmrag.generators import HOW_TO_ENABLE_VLM

    out.print(f"[dim]generator: {answer.generator}[/]", highlight=False)
    out.print(answer.text, markup=False, highlight=False, soft_wrap=True)
    if answer.citations:
        out.print("\n[bold]citations[/]")
        for c in answer.citations:
            out.print(f"  {c.marker} {c.doc} p.{c.page} {c.kind} {c.element_id}", markup=False, highlight=False)
    if answer.generator.startswith("extractive"):
        console.print(HOW_TO_ENABLE_VLM, style="dim", markup=False, highlight=False, soft_wrap=True)
    for p in written:
        out.print(f"image: {p}", highlight=False)


def _write_cited_images(idx: Any, answer: Any, folder: Path) -> list[str]:
    from mmrag.pipelines.cited_images import write_cited_images

    return write_cited_images(idx, answer, folder)
