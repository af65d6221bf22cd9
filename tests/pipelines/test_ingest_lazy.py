"""Nothing loads a model the run does not need: an unchanged re-index, inspect, remove and --help import no torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mmrag.pipelines.index import open_index
from mmrag.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
HEAVY = ("torch", "transformers", "sentence_transformers", "open_clip")

SCRIPT = """
import json, sys
from typer.testing import CliRunner
from mmrag.cli.app import app

corpus, idx, HEAVY = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
runner = CliRunner()
codes = {}
for name, args in [("help", ["--help"]), ("index", ["index", corpus, "--index", idx, "--json"]),
                   ("inspect", ["inspect", "--index", idx, "--json"]),
                   ("remove", ["remove", "finfet_yield_paper.pdf", "--index", idx, "--json"])]:
    result = runner.invoke(app, args)
    codes[name] = [result.exit_code, result.output]
print(json.dumps({"codes": codes, "heavy": [m for m in HEAVY if m in sys.modules]}))
"""


def test_unchanged_reindex_inspect_remove_and_help_load_no_model(tmp_path: Path, tiny_settings: Settings) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("finfet_yield_paper.pdf", "arabica_market_note_q3_2024.pdf"):
        shutil.copy(SAMPLE / name, corpus / name)
    settings = tiny_settings.updated({"ingest.ocr": "none"})
    with open_index(tmp_path / "idx", settings) as index:  # both channels: text and the tiny random CLIP
        assert index.add([corpus]).ok
        assert set(index.channels) == {"text", "image"}
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(corpus), str(tmp_path / "idx"), ",".join(HEAVY)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {k: v[0] for k, v in result["codes"].items()} == {"help": 0, "index": 0, "inspect": 0, "remove": 0}
    assert json.loads(result["codes"]["index"][1])["unchanged"] == sorted(p.name for p in corpus.glob("*.pdf"))
    assert result["heavy"] == []
    with open_index(tmp_path / "idx") as index:  # the removal reached both channels, without their models
        assert [d["doc"] for d in index.store.documents()] == ["arabica_market_note_q3_2024.pdf"]
        assert index.channels["text"].docs() == {"arabica_market_note_q3_2024.pdf"}
        assert index.channels["image"].docs() == {"arabica_market_note_q3_2024.pdf"}
