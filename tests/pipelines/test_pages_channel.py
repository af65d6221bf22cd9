"""The pages channel (late interaction, a tiny random ColQwen2 named by its folder) through the whole index:
`mmrag index --pages-model DIR` fills it, `mmrag search --channel pages` and the fused search use it, and
inspect, check, remove, a reader, a settings change with `--reembed`, eval and `--tune` treat it like any
channel. Without weights it is disabled with a one-line reason; without a model named it is off."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmrag.cli.app import app
from mmrag.errors import StaleVectors
from mmrag.indexes.qdrant_pages import QdrantPagesChannel
from mmrag.models.late_interaction import maxsim
from mmrag.pipelines.check import ERROR, check_index
from mmrag.pipelines.evaluate import default_channels
from mmrag.pipelines.index import MMIndex, open_index
from mmrag.pipelines.tune import apply, search_space
from mmrag.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
DOCS = ["finfet_yield_paper.pdf", "solar_outlook_2024.pdf"]
QUERY = "wafer yield by lot"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def pages_index(tmp_path_factory: pytest.TempPathFactory, tiny_colqwen2: str) -> Path:
    """Two sample PDFs indexed by the CLI with the pages channel on (the image channel off, to save time)."""
    root = tmp_path_factory.mktemp("pages") / "idx"
    code, out, err = cli("index", *(str(SAMPLE / d) for d in DOCS), "--index", str(root), "--pages-model",
                         tiny_colqwen2, "--no-image", "--device", "cpu", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["added"] == DOCS and summary["channels"] == ["pages", "text"]
    return root


def _brute_force(index: MMIndex, query: str, k: int) -> list[str]:
    """The k best pages by MaxSim of the model's own vectors, computed apart from Qdrant."""
    channel = index.channels["pages"]
    assert isinstance(channel, QdrantPagesChannel)
    renders = [e for e in index.store.elements() if e.kind == "page"]
    images = [Image.open(io.BytesIO(index.store.read_pixels(e.image or ""))) for e in renders]
    vectors = channel.encoder.encode_pages(images)
    q = channel.encoder.encode_queries([query])[0]
    scored = sorted(((e.id, maxsim(q, v)) for e, v in zip(renders, vectors)), key=lambda r: (-r[1], r[0]))
    return [eid for eid, _ in scored[:k]]


def test_index_fills_the_channel_and_search_uses_it(pages_index: Path) -> None:
    index = open_index(pages_index, read_only=True)  # as `mmrag search` opens it: a copy of the Edge shard
    info = index.inspect()["channels"]["pages"]
    pages = index.store.counts()["page"]
    assert info["status"] == "enabled" and info["points"] == pages == 11
    assert info["fingerprint"]["model"] == "tiny-colqwen2" and info["fingerprint"]["dim"] == 16
    assert index.inspect()["models"]["pages"].endswith("tiny-colqwen2")

    hits = index.search(QUERY, channel="pages", k=5)
    assert [h.element.id for h in hits] == _brute_force(index, QUERY, 5)
    assert all(h.element.kind == "page" and list(h.channels) == ["pages"] for h in hits)
    # filters run inside the search
    narrowed = index.search(QUERY, channel="pages", docs=[DOCS[1]], pages=(2, 4), k=10)
    assert len(narrowed) == 3 and all(h.element.doc == DOCS[1] and 2 <= h.element.page <= 4 for h in narrowed)
    assert index.search(QUERY, channel="pages", kinds=["figure"], k=5) == []

    # fused: the pages channel's ranking joins the text channel's, collapsed per page
    fused = index.search(QUERY, k=8)
    assert any("pages" in h.channels for h in fused) and any("text" in h.channels for h in fused)
    assert any({"pages", "text"} <= set(h.channels) for h in fused)
    # with the text rankings weighted out, the fused order is the pages channel's, page by page
    r = index.parts
    from mmrag.pipelines.query import rank_units, retrieve

    retrieval = retrieve(r, QUERY, ["text", "pages"], None, 50)
    only_pages = apply(index.settings.query, {"weights.text": 0.0, "weights.text:dense": 0.0,
                                              "weights.text:lexical": 0.0, "weights.text:rrf": 0.0,
                                              "kind_quota": {}, "fusion": "weighted", "neighbour_bonus": 0.0})
    units = rank_units(retrieval, only_pages)
    top = [(retrieval.elements[eid].doc, retrieval.elements[eid].page) for eid in _brute_force(index, QUERY, 3)]
    assert [u.key for u in units[:3]] == top
    index.close()


def test_search_channel_pages_through_the_cli(pages_index: Path) -> None:
    code, out, err = cli("search", QUERY, "--index", str(pages_index), "--channel", "pages", "--k", "4", "--json")
    assert code == 0, err
    hits = json.loads(out)["hits"]
    assert len(hits) == 4 and all(h["kind"] == "page" and set(h["channels"]) == {"pages"} for h in hits)
    assert [h["channels"]["pages"]["rank"] for h in hits] == [1, 2, 3, 4]
    code, out, _ = cli("search", QUERY, "--index", str(pages_index), "--json")
    assert code == 0 and any("pages" in h["channels"] for h in json.loads(out)["hits"])
    code, out, _ = cli("inspect", "--index", str(pages_index))
    assert code == 0 and "pages: enabled" in out


def test_check_remove_reader_and_reembed(pages_index: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "idx"
    shutil.copytree(pages_index, root)
    index = open_index(root)
    assert [f for f in check_index(index).findings if f.level == ERROR] == []
    channel = index.channels["pages"]
    channel.delete_docs([DOCS[0]])  # vectors lost behind the index's back are found, and repaired
    assert [(f.channel, f.doc) for f in check_index(index).findings if f.check == "vectors"] == [("pages", DOCS[0])]
    assert check_index(index, repair=True).ok and channel.count() == 11
    index.close()

    # remove opens the channels without loading the page model, and deletes the document's pages
    index = open_index(root)
    assert index.remove(DOCS[0])
    channel = index.channels["pages"]
    assert channel.encoder._encoder is None  # type: ignore[attr-defined]
    assert channel.docs() == {DOCS[1]} and channel.count() == 6
    index.close()
    reader = open_index(root, read_only=True)
    assert {h.element.doc for h in reader.search(QUERY, channel="pages", k=20)} == {DOCS[1]}
    reader.close()

    # pooling changes the stored vectors: refused until --reembed, which rebuilds them
    with open_index(root, read_only=True) as index:
        stored = index.settings
    config = tmp_path / "pooled.toml"
    config.write_text(f'[image]\nenabled = false\n[pages]\nmodel = "{stored.pages.model}"\ndevice = "cpu"\n'
                      "pool_factor = 3\n")
    with pytest.raises(StaleVectors, match="pages"):
        open_index(root, Settings.load(config)).add([SAMPLE / DOCS[1]])
    code, _, err = cli("index", str(SAMPLE / DOCS[1]), "--index", str(root), "--config", str(config), "--reembed")
    assert code == 0, err
    with open_index(root, read_only=True) as index:
        assert index.inspect()["channels"]["pages"]["fingerprint"]["pool_factor"] == 3
        assert index.channels["pages"].count() == 6
        assert len(index.search(QUERY, channel="pages", k=3)) == 3


def test_eval_and_tune_treat_it_like_any_channel(pages_index: Path, tmp_path: Path) -> None:
    with open_index(pages_index, read_only=True) as index:
        assert default_channels(index) == ["text", "image", "pages", "fused"]
        assert "weights.pages" in search_space(index) and "weights.image" not in search_space(index)
    questions = tmp_path / "questions.jsonl"  # a few of the sample questions about these documents
    rows = [json.loads(ln) for ln in (SAMPLE / "questions.jsonl").read_text().splitlines() if ln.strip()]
    mine = [r for r in rows if set(r.get("docs") or [r.get("doc")]) <= set(DOCS)][:6]
    assert mine
    questions.write_text("\n".join(json.dumps(r) for r in mine) + "\n")
    code, out, err = cli("eval", str(questions), "--index", str(pages_index), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert "pages" in data["metrics"] and "fused" in data["metrics"]


def test_off_by_default_and_disabled_without_weights(tmp_path: Path) -> None:
    # nothing to parse: the channels open (and say why one is missing) all the same
    code, out, err = cli("index", "--index", str(tmp_path / "plain"), "--no-image", "--json")
    assert code == 0 and json.loads(out)["channels"] == ["text"] and "pages" not in json.loads(out)["disabled"]
    assert "pages channel" not in err
    with open_index(tmp_path / "plain", read_only=True) as index:
        assert index.inspect()["channels"]["pages"]["status"] == "off"
        assert default_channels(index) == ["text", "image", "fused"]
    code, _, err = cli("search", "x", "--index", str(tmp_path / "plain"), "--channel", "pages")
    assert code == 2 and err.startswith("error: the pages channel is not available: off: name")
    assert len(err.strip().splitlines()) == 1

    # a model named whose weights are not here: the index works without it, said in one line, no traceback
    code, out, err = cli("index", "--index", str(tmp_path / "nowts"), "--no-image", "--pages-model",
                         "vidore/colqwen2-v1.0")
    assert code == 0 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "pages channel" in ln or "pages model" in ln]
    assert len(lines) == 1 and "pages channel disabled" in lines[0] and "huggingface-cli download" in lines[0]
    code, _, err = cli("search", "x", "--index", str(tmp_path / "nowts"), "--channel", "pages")
    assert code == 2 and "pages model 'vidore/colqwen2-v1.0' is not available" in err and "Traceback" not in err
    with open_index(tmp_path / "nowts", read_only=True) as index:
        assert index.inspect()["channels"]["pages"]["status"] == "disabled"
