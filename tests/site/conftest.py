"""Fixtures for testing the built site in a real browser (Debian's Chromium via Playwright).

Run after a book build:  pytest tests/site --site _build/smoke/_build/html
Nothing downloads a browser: Playwright drives /usr/bin/chromium (`apt-get install chromium`).
The accessibility check injects axe-core, which `make test` fetches from npm into
tests/site/axe-core/ (the Makefile pins its version).
"""

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

# Debian's chromium by default; CHROMIUM names another Chrome (GitHub's runners have one).
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def pytest_addoption(parser):
    parser.addoption("--site", default=None,
                     help="folder of the built book to test (default: the smoke build)")
    parser.addoption("--screenshots", default=None,
                     help="where to save one screenshot per page (default: <site>/../screenshots)")
    parser.addoption("--axe", default=str(AXE),
                     help=f"axe-core's axe.min.js (default: {AXE}, fetched by make)")


@pytest.fixture(scope="session")
def site_dir(pytestconfig):
    option = pytestconfig.getoption("--site")
    path = Path(option or "_build/smoke/_build/html").resolve()
    if not (path / "index.html").is_file():
        message = f"no built site in {path}: build the book first (make smoke-book)"
        if option:  # asked for explicitly (make test): a missing site is an error
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def screenshot_dir(pytestconfig, site_dir):
    option = pytestconfig.getoption("--screenshots")
    path = Path(option) if option else site_dir.parent / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def axe_source(pytestconfig):
    """The text of axe.min.js. Missing is an error, not a skip: the check must not go quiet."""
    path = Path(pytestconfig.getoption("--axe"))
    if not path.is_file():
        pytest.fail(f"axe-core is missing: no {path}. Fetch it with "
                    "`make site-test` or `make test` (needs npm), or pass --axe PATH/axe.min.js",
                    pytrace=False)
    return path.read_text()


@pytest.fixture(scope="session")
def base_url(site_dir):
    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
