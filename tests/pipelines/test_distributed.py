"""Ingestion on a local Ray cluster gives the same elements, pixels and search results as a local run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from renders import render_difference

from mmrag.pipelines.index import MMIndex, open_index
from mmrag.settings import Settings

ray = pytest.importorskip("ray")  # the `ray` extra; CI installs it with the test extras

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"
QUERIES = [
    "battery storage capacity of the Redwood Gate solar project",
    "yield of FinFET wafers by process node",
    "ridership by line in 2023",
    "coffee arabica prices third quarter",
    "adverse events in the trial",
]
pytestmark = pytest.mark.slow  # a Ray start and two ingests of the sample corpus: ~30-60 s on 2 cores


def settings() -> Settings:
    # Image channel and OCR off keep it fast; the text channel (real MiniLM + BM25) is what the tasks compute.
    return Settings().updated({"image.enabled": False, "ingest.ocr": "none", "ingest.workers": 1})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for pdf in SAMPLE.glob("*.pdf"):
        shutil.copy(pdf, folder / pdf.name)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    return folder


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                                       "TOKENIZERS_PARALLELISM": "false"}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory, corpus: Path, ray_cluster: None) -> Iterator[
        tuple[MMIndex, MMIndex, dict]]:
    root = tmp_path_factory.mktemp("runs")
    local = open_index(root / "local", settings())
    local_report = local.add([corpus])
    on_ray = open_index(root / "ray", settings())
    ray_report = on_ray.add([corpus], ray="auto")  # "auto" joins the Ray already running in this process
    yield local, on_ray, {"local": local_report, "ray": ray_report}
    local.close()
    on_ray.close()


def test_same_documents_and_failures(indexes: tuple[MMIndex, MMIndex, dict]) -> None:
    _, _, reports = indexes
    local, remote = reports["local"], reports["ray"]
    assert sorted(remote.added) == sorted(local.added) and len(remote.added) == 5
    assert [f["doc"] for f in remote.failed] == [f["doc"] for f in local.failed] == ["broken.pdf"]
    from mmrag.pipelines import distributed

    assert distributed._ENCODERS == {}  # the text was encoded in Ray's worker processes, not in this one


def test_same_elements_and_pixels(indexes: tuple[MMIndex, MMIndex, dict]) -> None:
    local, on_ray, _ = indexes
    a = {e.id: e.to_dict() for e in local.store.elements()}
    b = {e.id: e.to_dict() for e in on_ray.store.elements()}
    assert len(a) > 100 and a.keys() == b.keys()
    differing = {(k, a[k]["doc"], a[k]["page"], f): (a[k][f], b[k][f]) for k in a for f in a[k] if a[k][f] != b[k][f]}
    for key, (mine, theirs) in list(differing.items()):  # a render with other bytes that shows the same picture
        if key[3] == "image" and mine and theirs and render_difference(
                local.store.read_pixels(mine), on_ray.store.read_pixels(theirs), "local, Ray: " + str(key)) is None:
            del differing[key]
    assert not differing, differing  # (id, doc, page, field): (local, Ray)
    images = [e for e in on_ray.store.elements() if e.image]
    assert images and all(on_ray.store.pixel_path(e.image).exists() for e in images)
    same_key = [e for e in images[:20] if a[e.id]["image"] == e.image]  # (another key's pixels were compared above)
    assert {e.image: on_ray.store.read_pixels(e.image) for e in same_key} == {
        e.image: local.store.read_pixels(e.image) for e in same_key
    }
    assert local.inspect()["elements"] == on_ray.inspect()["elements"]
    assert on_ray.channels["text"].count() == local.channels["text"].count()


def test_same_search_results(indexes: tuple[MMIndex, MMIndex, dict]) -> None:
    local, on_ray, _ = indexes
    for q in QUERIES:
        for channel in ("text", "all"):
            want = [(h.element.id, h.element.page) for h in local.search(q, channel=channel, k=10)]
            got = [(h.element.id, h.element.page) for h in on_ray.search(q, channel=channel, k=10)]
            assert got == want, (q, channel)
        assert [h.element.id for h in on_ray.search(q, kinds=["table", "figure"], k=5)] == [
            h.element.id for h in local.search(q, kinds=["table", "figure"], k=5)
        ]


def test_rerun_on_ray_skips_unchanged_files(indexes: tuple[MMIndex, MMIndex, dict], corpus: Path) -> None:
    _, on_ray, _ = indexes
    report = on_ray.add([corpus], ray="auto")
    assert len(report.unchanged) == 5 and report.added == []



def test_the_pages_channel_encodes_on_the_driver(tmp_path: Path, corpus: Path, ray_cluster: None,
                                                 tiny_colqwen2: str) -> None:
    """With the pages channel on (a tiny random ColQwen2), a Ray run fills it as a local run does."""
    with_pages = settings().updated({"pages.model": tiny_colqwen2, "pages.device": "cpu"})
    doc = corpus / "finfet_yield_paper.pdf"
    local, on_ray = open_index(tmp_path / "local", with_pages), open_index(tmp_path / "ray", with_pages)
    assert local.add([doc]).ok and on_ray.add([doc], ray="auto").ok
    assert on_ray.channels["pages"].count() == local.channels["pages"].count() == 5
    for q in QUERIES[:2]:
        for channel in ("pages", "all"):
            assert [h.element.id for h in on_ray.search(q, channel=channel, k=5)] == \
                [h.element.id for h in local.search(q, channel=channel, k=5)], (q, channel)
    local.close()
    on_ray.close()


def test_an_address_nothing_listens_at_fails_in_seconds() -> None:
    from mmrag.errors import MMRagError
    from mmrag.pipelines.distributed import _probe

    with pytest.raises(MMRagError, match="no Ray cluster at '127.0.0.1:1'"):
        _probe("127.0.0.1:1")
    with pytest.raises(MMRagError, match="use auto, local, HOST:PORT"):
        _probe("nonsense")
    _probe("auto")  # resolved by Ray itself
