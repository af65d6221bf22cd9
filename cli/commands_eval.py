"""`mmrag eval`: retrieval quality per channel and fused, run comparison, and `--tune`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmrag.cli.console import cli_errors, out, progress_bar, setup_logging
from mmrag.cli.flags import IndexOpt, JsonOpt, open_index, parse_choices, parse_ints, parse_list
from mmrag.errors import MMRagError


@cli_errors
def eval_(
    questions: Annotated[Path | None, typer.Argument(help="questions.jsonl, or a BEIR folder.")] = None,
    index: IndexOpt = Path("idx"),
    scope: Annotated[str, typer.Option(help="doc: rank the question's own document; corpus: all.")] = "doc",
    k: Annotated[str, typer.Option(help="Cut-offs, e.g. 1,5,10.")] = "1,5,10",
    channels: Annotated[str | None, typer.Option(
        help="Channels to score, e.g. text,image,pages,fused (default: each channel that is not off, and fused).")
    ] = None,
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
    setup_logging(False)
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

    parse_choices("--scope", scope, SCOPES)
    if tune:
        from mmrag.pipelines.tune import format_tune
        from mmrag.pipelines.tune import tune as run_tune

        if not 0.0 <= holdout < 1.0:
            raise MMRagError(f"--holdout {holdout}: use a share in [0, 1)")
        bar, update = progress_bar()
        with open_index(index) as idx, bar:
            data = run_tune(idx, questions, scope=scope, holdout=holdout, write=write, progress=update).to_json()
        if as_json:
            out.print_json(json.dumps(data))
        else:
            out.print(format_tune(data), markup=False, highlight=False)
        return
    parse_choices("--channels", channels, EVAL_CHANNELS + DIAGNOSTIC_CHANNELS)
    ks = parse_ints("--k", k)
    bar, update = progress_bar()
    with open_index(index, read_only=True) as idx, bar:
        result, text = evaluate_command(idx, questions, scope=scope, ks=ks, channels=parse_list(channels) or [],
                                        report=report, answers=answers, progress=update)
    if as_json:
        out.print_json(json.dumps(result))
    else:
        out.print(text, markup=False, highlight=False)
        if report:
            out.print(f"report: {report / 'report.md'}")
