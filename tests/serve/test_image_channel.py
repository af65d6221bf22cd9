"""The image channel through the API: with an open_clip model (the tiny random one the tests build), image hits
come back with their crops, alone (`channel=image`) and fused beside the text channel."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from mmrag.pipelines.index import open_index
from mmrag.serve.api import create_app
from mmrag.serve.service import IndexService
from mmrag.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "sample_corpus"


@pytest.fixture(scope="module")
def image_client(tiny_clip: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("image") / "idx"
    settings = Settings().updated({"image.model": tiny_clip, "image.pretrained": "random", "image.device": "cpu"})
    torch.manual_seed(0)
    with open_index(root, settings) as index:
        assert index.add([SAMPLE / "solar_outlook_2024.pdf", SAMPLE / "finfet_yield_paper.pdf"]).ok
    service = IndexService(root)
    with TestClient(create_app(service, mcp=False)) as client:
        yield client
    service.close()


def test_health_lists_the_image_channel(image_client: TestClient) -> None:
    health = image_client.get("/api/health").json()
    assert health["channels"] == ["image", "text"] and not health["disabled"]


def test_image_channel_alone_returns_crops_and_pages(image_client: TestClient) -> None:
    hits = image_client.get("/api/search", params={"q": "bar chart of solar capacity", "channel": "image",
                                                   "k": 8}).json()["hits"]
    assert hits and {h["kind"] for h in hits} <= {"figure", "table", "page"}
    assert all(list(h["channels"]) == ["image"] for h in hits)
    for h in hits[:3]:
        assert h["pixels"] == f"/api/elements/{h['element_id']}/image"
        img = Image.open(io.BytesIO(image_client.get(h["pixels"]).content))
        assert img.width > 0


def test_fused_search_carries_both_channels(image_client: TestClient) -> None:
    hits = image_client.get("/api/search", params={"q": "installed solar capacity by region", "k": 10}).json()["hits"]
    channels = {name for h in hits for name in h["channels"]}
    assert {"text", "image"} <= channels
    answer = image_client.post("/api/ask", json={"question": "installed solar capacity by region"}).json()
    assert answer["hits"] and answer["citations"]
