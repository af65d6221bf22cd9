"""`mmrag eval --tune` on the sample corpus: a search over query settings, checked on held-back questions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from mmrag.cli.app import app
from mmrag.eval.questions import load_questions
from mmrag.pipelines.index import MMIndex, open_index
from mmrag.pipelines.tune import SEARCH_SPACE, apply, split_questions, tune

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
QUESTIONS = SAMPLE / "questions.jsonl"


def objective(m: dict[str, float]) -> float:
    return m["page_hit@1"] + m["page_hit@5"]


def test_split_is_stable_and_disjoint() -> None:
    qs = load_questions(QUESTIONS)
    a_tune, a_held = split_questions(qs, 0.3)
    b_tune, b_held = split_questions(qs, 0.3)
    assert [q.id for q in a_tune] == [q.id for q in b_tune] and [q.id for q in a_held] == [q.id for q in b_held]
    assert not {q.id for q in a_tune} & {q.id for q in a_held}
    assert 0.15 < len(a_held) / len(qs) < 0.45


def test_apply_sets_weights_and_fields(sample_index: MMIndex) -> None:
    cfg = apply(sample_index.settings.query, {"weights.text:dense": 0.5, "rrf_k": 10, "kind_quota": {}})
    assert cfg.weights["text:dense"] == 0.5 and cfg.rrf_k == 10 and cfg.kind_quota == {}
    assert sample_index.settings.query.rrf_k == 60  # the original is untouched


def test_tune_never_ends_worse_on_the_tuning_split(sample_index: MMIndex) -> None:
    result = tune(sample_index, QUESTIONS, write=False)
    assert result.tried > 10 and not result.written
    assert objective(result.after["tune"]) >= objective(result.before["tune"])
    for key, value in result.chosen.items():
        assert value in SEARCH_SPACE[key]
    assert result.split["tune"] + result.split["held"] == 60


def test_tune_command_writes_settings_that_search_then_uses(sample_index: MMIndex, tmp_path: Path) -> None:
    for channel in sample_index.channels.values():
        channel.flush()  # the copy must hold everything written so far
    copy = tmp_path / "idx"
    shutil.copytree(sample_index.root, copy)
    with open_index(copy, create=False) as idx:
        before = idx.settings.query  # as the copy stored them (other tests may change the open index's)
    result = CliRunner().invoke(app, ["eval", str(QUESTIONS), "--index", str(copy), "--tune", "--holdout", "0.0",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # progress bars and notices go to stderr
    assert data["split"] == {"tune": 60, "held": 0}
    with open_index(copy, create=False) as idx:
        stored = idx.settings.query
    if data["chosen"]:
        assert data["written"]
        assert stored == apply(before, data["chosen"])
    else:
        assert stored == before


def test_the_stages_search_every_key_of_the_space_once() -> None:
    from mmrag.pipelines.tune import STAGES

    keys = [key for stage in STAGES for key in stage]
    assert sorted(keys) == sorted(SEARCH_SPACE) and len(keys) == len(set(keys))
