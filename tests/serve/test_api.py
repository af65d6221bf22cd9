"""The HTTP API over the sample corpus: the CLI's JSON shapes, filters, streaming, images, and bad input as 4xx
with one line."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from mmrag.cli.app import app as cli_app
from mmrag.serve.api import iter_sse

QUESTION = "What is the battery storage capacity of the Redwood Gate solar project in MWh?"


def one_line_error(response, status: int) -> str:  # noqa: ANN001
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


def test_health_names_documents_and_channels(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["documents"] == 5
    assert "text" in body["channels"]


def test_search_is_the_cli_json_with_urls_for_pixels(client: TestClient, serve_index) -> None:  # noqa: ANN001
    api = client.get("/api/search", params={"q": "regional solar capacity chart", "k": 5}).json()
    cli = CliRunner().invoke(cli_app, ["search", "regional solar capacity chart", "--index", str(serve_index),
                                       "--k", "5", "--json"])
    assert cli.exit_code == 0, cli.output
    cli_json = json.loads(cli.output)
    assert set(api) == set(cli_json) == {"query", "references", "hits"}
    assert [h["element_id"] for h in api["hits"]] == [h["element_id"] for h in cli_json["hits"]]
    assert set(api["hits"][0]) == set(cli_json["hits"][0]) | {"page_image_url"}
    for api_hit, cli_hit in zip(api["hits"], cli_json["hits"]):
        assert api_hit["channels"] == cli_hit["channels"]
        if cli_hit["pixels"]:  # a file of the index on the CLI, the URL that serves it over HTTP
            assert api_hit["pixels"] == f"/api/elements/{api_hit['element_id']}/image"


def test_search_filters_apply(client: TestClient) -> None:
    hits = client.get("/api/search", params={"q": "solar", "doc": "solar_outlook_2024.pdf", "kind": "figure,table",
                                              "pages": "2-4", "k": 20}).json()["hits"]
    assert hits
    assert all(h["doc"] == "solar_outlook_2024.pdf" and h["kind"] in ("figure", "table") and 2 <= h["page"] <= 4
               for h in hits)
    dense = client.get("/api/search", params={"q": "solar", "channel": "text:dense", "k": 3}).json()["hits"]
    assert dense and all("text" in h["channels"] for h in dense)


@pytest.mark.parametrize(("params", "names"), [
    ({"q": "x", "kind": "chart"}, ["kind 'chart'", "figure", "table"]),
    ({"q": "x", "channel": "colpali"}, ["channel 'colpali'", "text:dense"]),
    ({"q": "x", "pages": "5-3"}, ["pages '5-3'", "N-M"]),
    ({"q": "x", "pages": "three"}, ["pages 'three'"]),
    ({"q": "x", "pages": "99999999999999999999999"}, ["pages '99999999999999999999999'"]),
    ({"q": "x", "channel": "o\x93"}, ["channel 'o", "use one of"]),
    ({"q": "x", "k": 0}, ["k 0", "1 to 100"]),
    ({"q": "x", "k": 1000}, ["k 1000", "1 to 100"]),
    ({"q": "x", "k": "ten"}, ["k 'ten'", "integer"]),
    ({"q": ""}, ["q is empty"]),
    ({"q": "   "}, ["q is empty"]),
    ({"q": "x" * 5000}, ["at most 4000"]),
    ({"q": "a\x00b"}, ["NUL"]),
    ({}, ["q"]),
])
def test_bad_search_parameters_are_one_line_422(client: TestClient, params: dict, names: list[str]) -> None:
    message = one_line_error(client.get("/api/search", params=params), 422)
    for name in names:
        assert name in message


def test_ask_answers_with_citations_and_evidence(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": QUESTION}).json()
    assert set(body) >= {"answer", "generator", "supported", "citations", "hits"}
    assert "1,240" in body["answer"]
    assert any(c["doc"] == "solar_outlook_2024.pdf" and c["page"] == 4 for c in body["citations"])
    assert body["hits"] and all(h["page_image_url"].endswith("?box=1") for h in body["hits"])


def test_ask_streams_tokens_then_the_answer(client: TestClient) -> None:
    with client.stream("POST", "/api/ask", json={"question": QUESTION, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(iter_sse(response.iter_lines()))
    names = [e for e, _ in events]
    assert names[-1] == "answer" and names[:-1] and set(names[:-1]) == {"token"}
    answer = events[-1][1]
    assert "".join(d["text"] for _, d in events[:-1]) == answer["answer"]
    assert answer["citations"]


@pytest.mark.parametrize(("body", "needle"), [
    ({"question": ""}, "question is empty"),
    ({"question": " "}, "question is empty"),
    ({"question": "x" * 5000}, "at most 4000"),
    ({"question": "x", "k": 99}, "k 99"),
    ({"question": "x", "kind": "photo"}, "kind 'photo'"),
    ({"question": "x", "stream": True, "kind": "photo"}, "kind 'photo'"),  # before the stream starts
    ({"question": "x", "temperature": 2}, "temperature"),
    ({}, "question"),
])
def test_bad_ask_requests_are_one_line_422(client: TestClient, body: dict, needle: str) -> None:
    assert needle in one_line_error(client.post("/api/ask", json=body), 422)


def test_oversize_and_malformed_bodies_are_refused(client: TestClient) -> None:
    big = json.dumps({"question": "x", "doc": "a" * 200_000})
    assert "limit" in one_line_error(client.post("/api/ask", content=big,
                                                 headers={"content-type": "application/json"}), 413)
    one_line_error(client.post("/api/ask", content="{not json", headers={"content-type": "application/json"}), 422)


def test_documents_and_one_document(client: TestClient) -> None:
    info = client.get("/api/documents").json()
    assert info["documents"] == 5 and len(info["docs"]) == 5
    assert str(info["index"]) == "idx"  # the folder's name, not its path on the server
    doc = client.get("/api/documents/solar_outlook_2024.pdf").json()
    assert doc["pages"] == len(doc["page_list"]) > 1
    assert doc["counts"]["figure"] == len(doc["elements"]["figure"]) > 0
    assert all(e["kind"] == "table" for e in doc["elements"]["table"])
    assert "not in this index" in one_line_error(client.get("/api/documents/nope.pdf"), 404)


def _image(response) -> Image.Image:  # noqa: ANN001
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/")
    return Image.open(io.BytesIO(response.content))


def test_element_and_its_images(client: TestClient) -> None:
    figure = client.get("/api/search", params={"q": "solar", "kind": "figure", "k": 1}).json()["hits"][0]
    info = client.get(f"/api/elements/{figure['element_id']}").json()
    assert info["kind"] == "figure" and info["doc"] == figure["doc"] and "image" not in info
    crop = _image(client.get(info["image_url"]))
    page = _image(client.get(info["page_image_url"]))
    assert page.width > crop.width or page.height > crop.height  # the whole page, with the box drawn
    thumb = _image(client.get(info["image_url"], params={"w": 64}))
    assert thumb.width <= 64
    plain = _image(client.get(f"/api/documents/{figure['doc']}/pages/{figure['page']}/image"))
    boxed = _image(client.get(f"/api/documents/{figure['doc']}/pages/{figure['page']}/image",
                              params={"boxes": figure["element_id"]}))
    assert plain.size == boxed.size and plain.convert("RGB").tobytes() != boxed.convert("RGB").tobytes()


@pytest.mark.parametrize("path", [
    "/api/elements/../../etc/passwd/image",
    "/api/elements/..%2F..%2Fetc%2Fpasswd/image",
    "/api/elements/%2Fetc%2Fpasswd/image",
    "/api/elements/%2e%2e%2fmanifest.json/image",
    "/api/elements/0123456789abcdef%00/image",
    "/api/elements/0123456789abcdef/image",  # well formed, not in the index
    "/api/elements/..%5c..%5cmanifest.json",
    "/api/documents/..%2Fmanifest.json",
    "/api/documents/%2Fetc%2Fpasswd/pages/1/image",
    "/api/documents/solar_outlook_2024.pdf/pages/999/image",
    "/api/documents/%C3%B9z/pages/1/image",
    "/report/files/..%2Fmanifest.json",
    "/report/files/%2Fetc%2Fpasswd",
])
def test_no_request_reaches_a_file_path(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert b"root:" not in response.content and b'"schema' not in response.content


def test_openapi_and_offline_docs(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/health", "/api/search", "/api/ask", "/api/documents", "/api/documents/{doc}",
            "/api/elements/{element_id}", "/api/elements/{element_id}/image"} <= set(paths)
    docs = client.get("/docs").text
    assert "swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    asset = [part.split('"')[0] for part in docs.split('src="')[1:] if "swagger-ui-bundle" in part][0]
    assert client.get(asset).status_code == 200


def test_page_numbers_past_any_integer_are_refused(client: TestClient, service) -> None:  # noqa: ANN001
    huge = "-1417259698803080953856"  # found by schemathesis: it overflowed SQLite's integers (a 500)
    one_line_error(client.get(f"/api/documents/solar_outlook_2024.pdf/pages/{huge}/image"), 422)
    one_line_error(client.get("/api/documents/solar_outlook_2024.pdf/pages/10000000000000000000000/image"), 422)
    from mmrag.serve.service import NotFound

    with pytest.raises(NotFound):
        service.page_image("solar_outlook_2024.pdf", 10**25)


def test_an_empty_channel_means_all(client: TestClient) -> None:
    assert client.get("/api/search", params={"q": "solar", "channel": ""}).json()["hits"]


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    one_line_error(client.get("/api/nothing"), 404)
    refused = client.delete("/api/documents/solar_outlook_2024.pdf")
    one_line_error(refused, 405)
    assert refused.headers["allow"] == "GET"
    one_line_error(client.post("/api/documents", files={"file": ("a.pdf", b"%PDF-1.4")}), 405)  # uploads are off


def test_a_body_that_is_not_json_is_one_line(client: TestClient) -> None:
    sent = client.post("/api/ask", content=b"\x00\x00\x00\x00\x00", headers={"content-type": "application/json"})
    assert "not JSON" in one_line_error(sent, 400)  # found by schemathesis: documented now, and said plainly
