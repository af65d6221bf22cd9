"""Who may call the server and what reaches a page: the API key, the login cookie, CORS, page headers, escaped
document text, and the CLI's refusals (an open address without a key, a taken port)."""

from __future__ import annotations

import socket
from pathlib import Path

import pymupdf
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mmrag.cli.app import app as cli_app
from mmrag.pipelines.index import open_index
from mmrag.serve.api import create_app
from mmrag.serve.security import SecurityOptions
from mmrag.serve.service import IndexService

KEY = "s3cret-key"
HOSTILE = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2"> Zebra quarterly tonnage'


@pytest.fixture(scope="module")
def keyed(service: IndexService) -> TestClient:
    with TestClient(create_app(service, mcp=False, security=SecurityOptions(api_key=KEY))) as c:
        yield c


def test_health_is_open_everything_else_needs_the_key(keyed: TestClient) -> None:
    assert keyed.get("/api/health").status_code == 200
    for path in ("/api/search?q=solar", "/api/documents", "/api/elements/0123456789abcdef", "/openapi.json"):
        response = keyed.get(path)
        assert response.status_code == 401, path
        assert "Authorization: Bearer" in response.json()["error"]
    assert keyed.get("/docs", follow_redirects=False).headers["location"] == "/login"
    assert keyed.post("/api/ask", json={"question": "solar"}).status_code == 401
    wrong = keyed.get("/api/search?q=solar", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = keyed.get("/api/search?q=solar", headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200 and ok.json()["hits"]


def test_the_browser_signs_in_once(service: IndexService) -> None:
    with TestClient(create_app(service, mcp=False, security=SecurityOptions(api_key=KEY))) as browser:
        first = browser.get("/", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/login"
        assert browser.post("/login", data={"key": "wrong"}).status_code == 401
        signed = browser.post("/login", data={"key": KEY}, follow_redirects=False)
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/").status_code == 200
        assert browser.get("/api/documents").status_code == 200  # the page's own calls carry the cookie


def test_cors_is_off_unless_an_origin_is_given(client: TestClient, service: IndexService) -> None:
    asked = client.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in asked.headers
    with TestClient(create_app(service, mcp=False, security=SecurityOptions(cors_origin="http://app.example"))) as c:
        allowed = c.get("/api/health", headers={"Origin": "http://app.example"})
        assert allowed.headers["access-control-allow-origin"] == "http://app.example"
        other = c.get("/api/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_pages_forbid_inline_script_and_framing(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    folder = tmp_path_factory.mktemp("hostile")
    pdf = folder / "hostile <b>name.pdf"
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), HOSTILE, fontsize=9)
    page.insert_text((72, 130), "Zebra quarterly tonnage rose to 42 tonnes in the third quarter.", fontsize=11)
    doc.save(pdf)
    with open_index(folder / "idx") as index:
        assert index.add([pdf]).ok
    service = IndexService(folder / "idx")
    with TestClient(create_app(service, mcp=False)) as c:
        yield c
    service.close()


def test_document_text_reaches_the_page_escaped(hostile_client: TestClient) -> None:
    html = hostile_client.get("/", params={"q": "Zebra quarterly tonnage"}).text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "<script>window" not in html and 'onerror="window' not in html
    docs = hostile_client.get("/documents").text
    assert "hostile &lt;b&gt;name.pdf" in docs and "<b>name" not in docs


def test_report_markdown_is_rendered_without_raw_html(tmp_path: Path, serve_index: Path) -> None:
    import shutil

    root = shutil.copytree(serve_index, tmp_path / "idx", ignore=shutil.ignore_patterns("*.lock"))
    service = IndexService(root)
    with TestClient(create_app(service, mcp=False)) as c:
        assert "No eval report" in c.get("/report").text
        (root / "eval").mkdir()
        (root / "eval" / "report.md").write_text("# Run\n\n<script>alert(1)</script>\n\n![plot](plot.png)\n")
        (root / "eval" / "plot.png").write_bytes((serve_index / "manifest.json").read_bytes()[:0] + _png())
        html = c.get("/report").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
        assert 'src="/report/files/plot.png"' in html
        assert c.get("/report/files/plot.png").headers["content-type"] == "image/png"
        assert c.get("/report/files/report.md").status_code == 404  # only the report's images are served
    service.close()


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, format="PNG")
    return buf.getvalue()


def test_serve_refuses_an_open_address_without_a_key(serve_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMRAG_API_KEY", raising=False)
    result = CliRunner().invoke(cli_app, ["serve", "--index", str(serve_index), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--api-key" in result.output and "--insecure" in result.output and "Traceback" not in result.output


def test_serve_says_when_the_port_is_taken(serve_index: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli_app, ["serve", "--index", str(serve_index), "--port", str(port)])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output and "Traceback" not in result.output


def test_serve_without_an_index_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--index", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no mmrag index here" in result.output
