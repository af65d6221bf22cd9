"""A page indexed without a render (MuPDF refused it at every resolution) is served by its text and crops: its
image endpoints say why there is no picture, a figure on it is shown without the page, search and ask still work."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mmrag.serve.api import create_app
from mmrag.serve.service import IndexService

DOC = "solar_outlook_2024.pdf"  # page 3 holds the monthly generation chart (a figure)


@pytest.fixture(scope="module")
def client(serve_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("norender") / "idx"
    shutil.copytree(serve_index, root, ignore=shutil.ignore_patterns("*.lock"))
    with sqlite3.connect(root / "elements.db") as db:
        db.execute("UPDATE elements SET image=NULL WHERE doc=? AND kind='page' AND page=3", (DOC,))
    service = IndexService(root)
    with TestClient(create_app(service, mcp=False)) as c:
        yield c
    service.close()


def test_a_page_without_a_render_is_served_by_its_text_and_crops(client: TestClient) -> None:
    resp = client.get(f"/api/documents/{DOC}/pages/3/image")
    assert resp.status_code == 404 and "has no page image" in resp.json()["error"]
    assert client.get(f"/documents/{DOC}").status_code == 200
    assert client.get(f"/documents/{DOC}/pages/3").status_code == 200
    hits = client.get("/api/search", params={"q": "monthly solar generation chart", "doc": DOC, "k": 5}).json()["hits"]
    figure = next(h for h in hits if h["page"] == 3 and h["kind"] == "figure")
    assert client.get(f"/api/elements/{figure['element_id']}/image").status_code == 200
    boxed = client.get(f"/api/elements/{figure['element_id']}/image", params={"box": 1})
    assert boxed.status_code == 200 and boxed.headers["content-type"] == "image/png"  # the crop, no page to box
    resp = client.post("/api/ask", json={"question": "What does the monthly generation chart show?", "doc": DOC})
    assert resp.status_code == 200


def test_the_web_page_says_the_page_has_no_image(client: TestClient) -> None:
    document = client.get(f"/documents/{DOC}").text
    assert document.count("no page image") == 1  # page 3's thumbnail; the other pages show theirs
    viewer = client.get(f"/documents/{DOC}/pages/3").text
    assert 'id="page-image-missing"' in viewer and 'id="page-image"' not in viewer
    assert client.get(f"/api/documents/{DOC}").json()["page_list"][2]["has_image"] is False
