"""The `mmrag` command line: index, inspect, search, ask, remove, check, eval."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mmrag.elements import KINDS
from mmrag.errors import MMRagError
from mmrag.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Multimodal RAG over PDF corpora.")
console = Console(stderr=True)
out = Console()

IndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Settings file (.toml or .json).")]


def cli_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn mmrag's own errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MMRagError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted:[/] the index stays usable; run the same command to resume")
            raise typer.Exit(130) from None

    return wrapper


def _setup_logging(verbose: bool) -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is imported, on first use
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
        handlers=[RichHandler(console=console, show_time=False, show_path=False)], force=True,
    )
    for noisy in ("httpx", "urllib3", "huggingface_hub", "sentence_transformers", "transformers", "PIL"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _settings(index: Path, config: Path | None, overrides: dict[str, Any]) -> Settings | None:
    """Settings for this run: a config file, else the index's stored settings, then CLI overrides."""
    from mmrag.pipelines.manifest import read_manifest

    if config is not None:
        base = Settings.load(config)
    else:
        manifest = read_manifest(index) if index.exists() else None
        if manifest and "settings" in manifest:
            try:
                base = Settings.from_dict(manifest["settings"])
            except MMRagError as exc:
                raise MMRagError(f"{index / 'manifest.json'}: {exc}") from None
        elif not any(v is not None for v in overrides.values()):
            return None
        else:
            base = Settings()
    return base.updated(overrides)


def _open(index: Path, config: Path | None = None, create: bool = False, reset_stale: bool = False,
          read_only: bool = False, **overrides: Any):  # noqa: ANN202
    from mmrag.pipelines.index import open_index

    return open_index(index, _settings(index, config, overrides), create=create, reset_stale=reset_stale,
                      read_only=read_only)


def _progress() -> tuple[Progress, Callable[[str, int, int], None]]:
    bar = Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=False)
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, update


def _parse_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _parse_choices(flag: str, value: str | None, allowed: tuple[str, ...]) -> list[str] | None:
    """A comma-separated flag value whose every item must be one of `allowed`."""
    items = _parse_list(value)
    for item in items or []:
        if item not in allowed:
            raise MMRagError(f"{flag} {item!r}: use one of {', '.join(allowed)}")
    return items


def _parse_ints(flag: str, value: str) -> list[int]:
    try:
        ks = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise MMRagError(f"{flag} {value!r}: use positive integers separated by commas, e.g. 1,5,10") from None
    if not ks or min(ks) < 1:
        raise MMRagError(f"{flag} {value!r}: use positive integers separated by commas, e.g. 1,5,10")
    return ks


def _parse_pages(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    lo, _, hi = value.partition("-")
    try:
        return (int(lo), int(hi or lo))
    except ValueError:
        raise MMRagError(f"--pages {value!r}: use N or N-M") from None


@app.command()
@cli_errors
def index(
    paths: Annotated[list[Path], typer.Argument(help="PDF files or folders (searched recursively).")] = None,  # type: ignore[assignment]
    index: IndexOpt = Path("idx"),
    config: ConfigOpt = None,
    reembed: Annotated[bool, typer.Option(help="Rebuild vectors after a model or settings change.")] = False,
    prune: Annotated[bool, typer.Option(help="Remove indexed documents not among PATHS.")] = False,
    optimize: Annotated[bool, typer.Option(help="Build Qdrant Edge's HNSW (past ~20k elements).")] = False,
    qdrant_url: Annotated[str | None, typer.Option(help="Qdrant server URL (API key from QDRANT_API_KEY).")] = None,
    text_model: Annotated[str | None, typer.Option(help="sentence-transformers model name or path.")] = None,
    image_model: Annotated[str | None, typer.Option(help="open_clip model name, e.g. ViT-B-32.")] = None,
    image_pretrained: Annotated[str | None, typer.Option(help="open_clip tag, checkpoint file or folder.")] = None,
    no_image: Annotated[bool, typer.Option("--no-image", help="Disable the image channel.")] = False,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto for encoders.")] = None,
    ocr: Annotated[str | None, typer.Option(help="auto, rapidocr, tesseract or none.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Processes that parse, render and OCR (default: ingest.workers, 0 = one per CPU core).")] = None,
    captioner: Annotated[str | None, typer.Option(help="VLM to describe figures at index time.")] = None,
    ray: Annotated[str | None, typer.Option(
        help="Parse and encode on a Ray cluster: auto, ray://HEAD:10001 or local (index dir on shared storage).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Index PDFs: parse into elements, embed into the text and image channels."""
    _setup_logging(verbose)
    overrides = {
        "text.qdrant_url": qdrant_url, "text.model": text_model, "image.model": image_model,
        "image.pretrained": image_pretrained, "image.enabled": False if no_image else None,
        "text.device": device, "image.device": device, "ingest.ocr": ocr, "captioner.model": captioner,
        "ingest.workers": workers,
    }
    idx = _open(index, config, create=True, reset_stale=reembed, **overrides)
    with idx:
        bar, update = _progress()
        with bar:  # channels (and their models) open only when something needs embedding or deleting
            if reembed:
                idx.reembed(progress=update)
            report = idx.add(paths or [], progress=update, reembed_stale=reembed, prune=prune, ray=ray)
            if optimize:
                idx.optimize(progress=update)
        for name, reason in idx.disabled.items():
            console.print(f"[yellow]{name} channel disabled:[/] {escape(reason)}", highlight=False, soft_wrap=True)
        for f in report.failed:
            console.print(f"[red]skipped[/] {escape(f['path'])}: {escape(f['reason'])}", highlight=False,
                          soft_wrap=True)
        info = idx.inspect()
        summary = {**report.to_dict(),
                   "channels": sorted(n for n, c in info["channels"].items() if c.get("status") == "enabled"),
                   "disabled": {n: c.get("reason", "") for n, c in info["channels"].items()
                                if c.get("status") == "disabled"},
                   **{k: v for k, v in info.items() if k in ("documents", "pages", "elements")}}
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        _print_index_summary(summary)
    raise typer.Exit(0 if report.ok else 1)


def _print_index_summary(summary: dict[str, Any]) -> None:
    t = Table(title="mmrag index", show_header=False)
    t.add_row("added", str(len(summary["added"])))
    t.add_row("unchanged", str(len(summary["unchanged"])))
    if summary["resumed"]:
        t.add_row("resumed (interrupted before)", ", ".join(summary["resumed"]))
    t.add_row("skipped (failed)", ", ".join(f["doc"] for f in summary["failed"]) or "0")
    t.add_row("documents / pages", f"{summary['documents']} / {summary['pages']}")
    t.add_row("elements", ", ".join(f"{k}: {v}" for k, v in sorted(summary["elements"].items())))
    t.add_row("channels", ", ".join(summary["channels"]) + (
        f" (disabled: {', '.join(summary['disabled'])})" if summary["disabled"] else ""))
    out.print(t)
    for w in summary["warnings"][:20]:
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)


@app.command()
@cli_errors
def inspect(index: IndexOpt = Path("idx"), as_json: JsonOpt = False) -> None:
    """Show documents, pages, elements by kind and channel status."""
    with _open(index, read_only=True) as idx:
        info = idx.inspect()
    if as_json:
        out.print_json(json.dumps(info))
        return
    t = Table(title=f"mmrag index {info['index']}")
    for col in ("doc", "pages", "status", "text", "figure", "table", "page"):
        t.add_column(col)
    for d in info["docs"]:
        e = d["elements"]
        t.add_row(d["doc"], str(d["pages"]), d["status"],
                  *(str(e.get(k, 0)) for k in ("text", "figure", "table", "page")))
    out.print(t)
    for name, ch in info["channels"].items():
        detail = ch.get("reason") or ", ".join(f"{k}={v}" for k, v in ch.items() if k not in ("status", "fingerprint"))
        out.print(f"[bold]{name}[/]: {ch.get('status', 'not built')} {detail}", highlight=False, soft_wrap=True)
    models = ", ".join(f"{role}={name}" for role, name in info.get("models", {}).items() if name)
    out.print(f"[bold]models[/]: {escape(models)}", highlight=False, soft_wrap=True)


@app.command()
@cli_errors
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    index: IndexOpt = Path("idx"),
    channel: Annotated[str, typer.Option(help="text, image or all (fused).")] = "all",
    doc: Annotated[str | None, typer.Option(help="Only these documents (comma-separated).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only these kinds: text,figure,table,page.")] = None,
    pages: Annotated[str | None, typer.Option(help="Page range, e.g. 3-5.")] = None,
    k: Annotated[int, typer.Option(help="How many hits.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Retrieve ranked elements with their channel scores."""
    _setup_logging(False)
    from mmrag.pipelines.query import CHANNEL_CHOICES, FUSED, recognised_references, rewrite

    _parse_choices("--channel", channel, CHANNEL_CHOICES)
    kinds = _parse_choices("--kind", kind, KINDS)
    with _open(index, read_only=True) as idx:
        hits = idx.search(query, channel=channel, docs=_parse_list(doc), kinds=kinds,
                          pages=_parse_pages(pages), k=k)
        refs = recognised_references(idx, query) if channel in FUSED else []
        searched = rewrite(idx.settings.query, query)
    if as_json:
        out.print_json(json.dumps({"query": searched.to_dict(), "references": [r.to_dict() for r in refs],
                                   "hits": [h.to_dict() for h in hits]}))
        return
    if searched.dropped:
        out.print(f"left out of the search (answer instructions): {searched.dropped}", markup=False)
    if searched.glossary_matches:
        out.print(f"glossary ({idx.settings.query.glossary}): " + ", ".join(searched.glossary_matches)
                  + f" → +{searched.lexical_terms!r} (lexical side)", markup=False)
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


@app.command()
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
    _setup_logging(False)
    overrides = {"generator.backend": generator, "generator.model": model, "generator.base_url": base_url}
    with _open(index, read_only=True, **overrides) as idx:
        answer = idx.ask(question, docs=_parse_list(doc), k=k)
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


@app.command()
@cli_errors
def remove(
    docs: Annotated[list[str], typer.Argument(help="Document names as shown by `mmrag inspect`.")],
    index: IndexOpt = Path("idx"),
    as_json: JsonOpt = False,
) -> None:
    """Remove documents and everything derived from them."""
    from mmrag.pipelines.lock import WriterLock

    removed, missing = [], []
    with _open(index) as idx, WriterLock(idx.root):
        for d in docs:
            (removed if idx.remove(d) else missing).append(d)
    if as_json:
        out.print_json(json.dumps({"removed": removed, "not_found": missing}))
    else:
        for d in removed:
            out.print(f"removed {d}")
        for d in missing:
            console.print(f"[yellow]not in the index:[/] {d}")
    raise typer.Exit(0 if not missing else 1)


@app.command()
@cli_errors
def check(
    index: IndexOpt = Path("idx"),
    repair: Annotated[bool, typer.Option(help="Re-embed missing vectors, drop orphans, restore pixel files.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify an index: manifest, store, each channel's vectors against the store, pixel files (exit 1 on errors)."""
    _setup_logging(False)
    from mmrag.pipelines.check import check_index

    if repair:
        with _open(index, reset_stale=True) as idx:
            report = check_index(idx, repair=True)
    else:
        with _open(index, read_only=True) as idx:  # works beside a running writer
            report = check_index(idx)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        for f in report.findings:
            style = "green" if f.repaired else ("red" if f.level == "error" else "yellow")
            out.print(f"[{style}]{escape(f.line())}[/]", highlight=False, soft_wrap=True)
        out.print(f"{report.index}: " + ("ok" if report.ok else "problems found; `mmrag check --repair` fixes "
                                                              "what it can"), highlight=False)
    raise typer.Exit(0 if report.ok else 1)


@app.command(name="eval")
@cli_errors
def eval_(
    questions: Annotated[Path | None, typer.Argument(help="questions.jsonl, or a BEIR folder.")] = None,
    index: IndexOpt = Path("idx"),
    scope: Annotated[str, typer.Option(help="doc: rank the question's own document; corpus: all.")] = "doc",
    k: Annotated[str, typer.Option(help="Cut-offs, e.g. 1,5,10.")] = "1,5,10",
    channels: Annotated[str, typer.Option(help="Channels to score: text,image,fused.")] = "text,image,fused",
    report: Annotated[Path | None, typer.Option(help="Write a Markdown report with plots here.")] = None,
    answers: Annotated[bool, typer.Option(help="Also score answers with the configured generator.")] = False,
    compare: Annotated[tuple[Path, Path] | None, typer.Option(help="Compare two report folders.")] = None,
    tune: Annotated[bool, typer.Option(help="Search the fusion/rerank settings on these questions and store the "
                                            "best in the index (checked on a held-back part first).")] = False,
    holdout: Annotated[float, typer.Option(help="With --tune: share of questions held back for checking.")] = 0.3,
    write: Annotated[bool, typer.Option(help="With --tune: store the chosen settings in the index.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Measure retrieval quality per channel and fused, by evidence type (or tune the query settings)."""
    _setup_logging(False)
    from mmrag.pipelines.evaluate import compare_command, evaluate_command

    if compare:
        text, data = compare_command(compare[0], compare[1])
        if as_json:
            out.print_json(json.dumps(data))
        else:
            out.print(text, markup=False, highlight=False)
        return
    if questions is None:
        raise MMRagError("give a questions file (JSONL or BEIR folder), or --compare RUN_A RUN_B")
    from mmrag.eval.evaluator import SCOPES
    from mmrag.pipelines.evaluate import DIAGNOSTIC_CHANNELS, EVAL_CHANNELS

    _parse_choices("--scope", scope, SCOPES)
    if tune:
        from mmrag.pipelines.tune import format_tune
        from mmrag.pipelines.tune import tune as run_tune

        if not 0.0 <= holdout < 1.0:
            raise MMRagError(f"--holdout {holdout}: use a share in [0, 1)")
        bar, update = _progress()
        with _open(index) as idx, bar:
            data = run_tune(idx, questions, scope=scope, holdout=holdout, write=write, progress=update).to_json()
        if as_json:
            out.print_json(json.dumps(data))
        else:
            out.print(format_tune(data), markup=False, highlight=False)
        return
    _parse_choices("--channels", channels, EVAL_CHANNELS + DIAGNOSTIC_CHANNELS)
    ks = _parse_ints("--k", k)
    bar, update = _progress()
    with _open(index, read_only=True) as idx, bar:
        result, text = evaluate_command(idx, questions, scope=scope, ks=ks, channels=_parse_list(channels) or [],
                                        report=report, answers=answers, progress=update)
    if as_json:
        out.print_json(json.dumps(result))
    else:
        out.print(text, markup=False, highlight=False)
        if report:
            out.print(f"report: {report / 'report.md'}")


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
