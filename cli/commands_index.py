"""`mmrag index`, `inspect`, `remove` and `check`: the commands that build, show, change and verify an index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mmrag.cli.console import cli_errors, console, out, progress_bar, setup_logging
from mmrag.cli.flags import ConfigOpt, IndexOpt, JsonOpt, open_index


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
    pages_model: Annotated[str | None, typer.Option(
        help="Late-interaction page model (ColQwen2/ColPali, hub id or folder): turns the pages channel on.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="Encoders on: auto, cpu, cuda, cuda:N or mps.")] = None,
    ocr: Annotated[str | None, typer.Option(help="auto, rapidocr, tesseract or none.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Processes that parse, render and OCR (default: ingest.workers, 0 = one per CPU core).")] = None,
    captioner: Annotated[str | None, typer.Option(help="VLM to describe figures at index time.")] = None,
    ray: Annotated[str | None, typer.Option(
        help="Parse and encode on a Ray cluster: auto, ray://HEAD:10001 or local (index dir on shared storage).")
    ] = None,
    profile: Annotated[bool, typer.Option(
        "--profile", help="Print seconds per ingest stage, for the main process and each parse worker.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what each step does.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Index PDFs: parse into elements, embed into the text and image channels (and pages, when a model is named)."""
    setup_logging(verbose)
    overrides = {
        "text.qdrant_url": qdrant_url, "text.model": text_model, "image.model": image_model,
        "image.pretrained": image_pretrained, "image.enabled": False if no_image else None,
        "pages.model": pages_model, "text.device": device, "image.device": device, "pages.device": device,
        "ingest.ocr": ocr, "captioner.model": captioner,
        "ingest.workers": workers,
    }
    idx = open_index(index, config, create=True, reset_stale=reembed, **overrides)
    with idx:
        bar, update = progress_bar()
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
        if profile:
            summary["profile"] = report.profile
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        _print_index_summary(summary)
        if profile and report.profile:
            _print_profile(report.profile)
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


def _print_profile(profile: dict[str, Any]) -> None:
    from mmrag.pipelines.ingest import profile_table

    header, rows = profile_table(profile)
    t = Table(title="seconds per stage (each second counted once: a nested stage pauses its parent)")
    for i, col in enumerate(header):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*row)
    out.print(t)


@cli_errors
def inspect(index: IndexOpt = Path("idx"), as_json: JsonOpt = False) -> None:
    """Show documents, pages, elements by kind and channel status."""
    with open_index(index, read_only=True) as idx:
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


@cli_errors
def remove(
    docs: Annotated[list[str], typer.Argument(help="Document names as shown by `mmrag inspect`.")],
    index: IndexOpt = Path("idx"),
    as_json: JsonOpt = False,
) -> None:
    """Remove documents and everything derived from them."""
    from mmrag.pipelines.lock import WriterLock

    removed, missing = [], []
    with open_index(index) as idx, WriterLock(idx.root):
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


@cli_errors
def check(
    index: IndexOpt = Path("idx"),
    repair: Annotated[bool, typer.Option(help="Re-embed missing vectors, drop orphans, restore pixel files.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify an index: manifest, store, each channel's vectors against the store, pixel files (exit 1 on errors)."""
    setup_logging(False)
    from mmrag.pipelines.check import check_index

    if repair:
        with open_index(index, reset_stale=True) as idx:
            report = check_index(idx, repair=True)
    else:
        with open_index(index, read_only=True) as idx:  # works beside a running writer
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
