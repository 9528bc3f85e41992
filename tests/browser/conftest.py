"""Browser tests: Playwright (Python) driving Debian's headless Chromium against pytest-django's
`live_server`. `make test-browser` installs Chromium (.ci/install-chromium) and runs them.
Screenshots of each step land in `test-artifacts/` (kept by CI as artifacts)."""

import contextlib
import os
import re
from pathlib import Path

import pytest

from tests.medaid.conftest import PASSWORD, make_user  # noqa: F401 — shared with these tests

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between
# page actions are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("MEDAID_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/install-chromium` (make test-browser)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.shots = Screenshots(page, request.node.name)
    yield page
    # The last state of every test, passed or failed, for whoever reads the CI artifacts.
    page.shots.take("final")
    context.close()


class Screenshots:
    def __init__(self, page, test_name: str) -> None:
        self.page = page
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()  # only this run's steps, numbered in order
        self.n = 0

    def take(self, step: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{step}.png"
        # A closed page must not hide the test's own failure.
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(path), full_page=True)
        return path


def submit(page, selector: str) -> None:
    """Click what leads to another page and wait until that page has loaded. The test's own ORM
    reads share the live server's SQLite connection: one made while a request is still being
    served finds the database locked, and the request fails."""
    with page.expect_navigation():
        page.click(selector)


def log_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    submit(page, "input[type=submit]")
