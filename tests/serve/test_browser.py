"""The web page in a real browser: `mmrag serve` started as the CLI starts it, driven by headless Chromium.

Debian's Chromium and its ChromeDriver (`apt-get install chromium chromium-driver`) do the driving; nothing is
downloaded. Without them the tests skip, except under CI (the environment variable CI set), where they fail.
The first test saves a screenshot in its tmp folder, and with MMRAG_UPDATE_SCREENSHOT=1 as the README's
screenshot, docs/images/serve.png.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mmrag

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_corpus"
SCREENSHOT = ROOT / "docs" / "images" / "serve.png"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
START_TIMEOUT = 60.0
WAIT = 60

QUESTION = "What is the battery storage capacity of the Redwood Gate solar project in MWh?"
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">'

# Whether some image matching the CSS selector (arguments[0]) has loaded: complete, with pixels.
LOADED = "return [...document.querySelectorAll(arguments[0])].some(i => i.complete && i.naturalWidth > 0);"


def unavailable(reason: str) -> None:
    """Skip for want of the browser, or fail under CI, which must run these tests."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the browser tests must run, not skip)")
    pytest.skip(f"{reason}: apt-get install chromium chromium-driver")


def browser_paths() -> tuple[str, str]:
    chromium = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium") or shutil.which("chromium-browser")
    driver = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    if not chromium or not driver:
        unavailable(f"no Chromium or ChromeDriver (looked for {CHROMIUM} and {CHROMEDRIVER})")
    return chromium, driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(index: Path, logs: Path, *extra: str) -> Iterator[str]:
    """`mmrag serve --index INDEX [EXTRA...]` in a subprocess, up (its /api/health answers); yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MMRAG_API_KEY"}  # no key: the page opens without login
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / f"serve-{port}.out", logs / f"serve-{port}.err"
    cmd = [sys.executable, "-m", "mmrag.cli.app", "serve", "--index", str(index), "--port", str(port), "--no-mcp",
           *extra]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mmrag serve exited with {proc.returncode} before answering:\n"
                            f"{err.read_text(errors='replace')}\n{out.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(base + "/api/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mmrag serve did not answer /api/health in {START_TIMEOUT:.0f} s:\n"
                            f"{err.read_text(errors='replace')}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def base_url(serve_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(serve_index, tmp_path_factory.mktemp("serve-logs")) as base:
        yield base


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium, chromedriver = browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-proxy-server", "--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1280,1400"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    browser.set_page_load_timeout(WAIT)
    yield browser
    browser.quit()


def wait(browser: Any, condition: Any, timeout: float = WAIT) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(condition)


def ask(browser: Any, base: str, question: str) -> str:
    """Type a question into the page's box, click Ask, wait for the answer; its text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser.get(base + "/")
    box = wait(browser, ec.presence_of_element_located((By.ID, "q")))
    box.clear()
    box.send_keys(question)
    browser.find_element(By.ID, "ask-button").click()
    return wait(browser, ec.presence_of_element_located((By.ID, "answer-text"))).text


def test_ask_cites_and_shows_evidence(driver: Any, base_url: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    answer = ask(driver, base_url, QUESTION)
    assert "1,240" in answer, answer
    citations = driver.find_elements(By.CSS_SELECTOR, "ol#citations a.citation")
    cited = [a for a in citations if "solar_outlook_2024.pdf p.4" in a.text]
    assert cited, [a.text for a in citations]
    assert driver.find_elements(By.CSS_SELECTOR, "section#evidence img.evidence-img")
    wait(driver, lambda d: d.execute_script(LOADED, "img.evidence-img"))

    # The README's screenshot: every thumbnail loaded (they load lazily: bring each into view), from the top.
    driver.execute_script("document.querySelectorAll('img.evidence-img').forEach(i => i.scrollIntoView());")
    with contextlib.suppress(Exception):  # a thumbnail that never loads shows as broken; the asserts above hold
        wait(driver, lambda d: d.execute_script(
            "return [...document.querySelectorAll('img.evidence-img')].every(i => i.complete);"), timeout=15)
    driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")  # the viewport: 1280x1300
    driver.set_window_size(1280, 1300 + max(0, chrome))
    assert driver.save_screenshot(str(tmp_path / "serve.png"))
    if os.environ.get("MMRAG_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "serve.png", SCREENSHOT)
    driver.set_window_size(1280, 1400)

    href = cited[0].get_attribute("href")
    cited[0].click()
    wait(driver, lambda d: d.find_elements(By.ID, "page-image"))
    assert "/documents/solar_outlook_2024.pdf/pages/4" in driver.current_url, (driver.current_url, href)
    wait(driver, lambda d: d.execute_script(LOADED, "img#page-image"))
    assert driver.execute_script("return document.getElementById('page-image').naturalWidth") > 0


def test_documents_list_and_pages(driver: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base_url + "/documents")
    rows = driver.find_elements(By.CSS_SELECTOR, "table#documents tbody tr")
    names = {row.find_element(By.CSS_SELECTOR, "td a").text: row for row in rows}
    assert set(names) == {p.name for p in SAMPLE.glob("*.pdf")}
    assert len(names) == 5
    row = names["solar_outlook_2024.pdf"]
    pages = int(row.find_elements(By.TAG_NAME, "td")[1].text)
    row.find_element(By.CSS_SELECTOR, "td a").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "a.page-thumb"))
    assert driver.current_url.endswith("/documents/solar_outlook_2024.pdf")
    assert driver.find_element(By.TAG_NAME, "h1").text == "solar_outlook_2024.pdf"
    thumbs = driver.find_elements(By.CSS_SELECTOR, "a.page-thumb")
    assert len(thumbs) == pages > 0
    assert [t.text for t in thumbs][:2] == ["p.1", "p.2"]
    thumbs[1].click()
    wait(driver, lambda d: d.execute_script(LOADED, "img#page-image"))
    assert driver.current_url.endswith("/documents/solar_outlook_2024.pdf/pages/2")


def hostile_pdf(path: Path) -> Path:
    import pymupdf

    with pymupdf.open() as doc:
        page = doc.new_page()
        lines = ["Quokka ledger memo: the marzipan tariff rose to seventeen percent in the harbor of Zanderby.",
                 f"The memo quotes {HOSTILE_SCRIPT} verbatim from the ledger,",
                 f"and also {HOSTILE_IMG} from the marzipan tariff annex."]
        for i, line in enumerate(lines):
            page.insert_text((56, 80 + 14 * i), line, fontsize=10)
        doc.save(path)
    return path


def test_document_markup_is_shown_as_text(driver: Any, tmp_path: Path) -> None:
    """Security: a PDF whose text holds <script> (or an <img onerror>) shows it as text and runs nothing; so does
    a question that holds markup."""
    from selenium.webdriver.common.by import By

    def inert(where: str, *shown: str) -> None:
        wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
        assert driver.execute_script("return typeof window.__pwned") == "undefined", where
        assert not driver.find_elements(By.CSS_SELECTOR, "img[onerror], main script"), where
        text = driver.find_element(By.TAG_NAME, "body").text
        for markup in shown:
            assert markup in text, (where, markup, text)

    pdf = hostile_pdf(tmp_path / "quokka_memo.pdf")
    with mmrag.open_index(tmp_path / "idx") as index:
        report = index.add([pdf])
    assert report.ok, report.failed
    with served(tmp_path / "idx", tmp_path / "logs") as base:
        ask(driver, base, "What did the quokka ledger memo say about the marzipan tariff?")
        inert("answer and evidence", HOSTILE_SCRIPT, HOSTILE_IMG)
        driver.find_element(By.CSS_SELECTOR, "a.citation").click()
        wait(driver, lambda d: d.find_elements(By.ID, "page-image"))
        inert("page viewer", HOSTILE_SCRIPT, HOSTILE_IMG)

        question = 'quokka marzipan "><script>window.__pwned=3</script><img src=x onerror="window.__pwned=4">'
        ask(driver, base, question)
        inert("a question holding markup", HOSTILE_SCRIPT)
        assert driver.find_element(By.ID, "q").get_attribute("value") == question
        assert driver.title.startswith(question)


STREAMED = ["The Redwood Gate", " project stores", " 1,240 MWh", " of battery", " storage",
            " [solar_outlook_2024.pdf p.4]."]


def test_a_streaming_generator_writes_the_answer_into_the_page(driver: Any, serve_index: Path, tmp_path: Path) -> None:
    """With a generator that streams (an OpenAI-compatible server here), the page shows the evidence at once and
    the answer grows token by token, then gets its citations."""
    from factories import SSEServer, delta
    from selenium.webdriver.common.by import By

    chat = SSEServer([*(delta(piece) for piece in STREAMED), "data: [DONE]"], chunk_bytes=64)
    chat.gate = threading.Event()  # the fake model stops after its first event until the test has looked
    chat.gate_seconds = 45.0
    with chat, served(serve_index, tmp_path / "logs", "--generator", "openai", "--base-url", chat.url,
                      "--model", "fake-vlm") as base:
        ask(driver, base, QUESTION)
        wait(driver, lambda d: d.execute_script(LOADED, "img.evidence-img"))  # evidence before the answer ends
        # The first token is on the page while the model holds the rest back: the page streams.
        wait(driver, lambda d: d.find_element(By.ID, "answer-text").text == STREAMED[0])
        assert not driver.find_elements(By.CSS_SELECTOR, "a.citation")
        chat.gate.set()
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#answer-text.done"))
        assert driver.find_element(By.ID, "answer-text").text == "".join(STREAMED).strip()
        assert chat.requests and chat.requests[0]["stream"] is True
        assert "openai" in driver.find_element(By.ID, "generator").text
        cited = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "ol#citations a.citation")]
        assert cited == ["[solar_outlook_2024.pdf p.4]"]
        assert driver.find_elements(By.CSS_SELECTOR, "article.hit.cited")
    assert chat.gate_opened  # the first event reached the page while the rest waited
