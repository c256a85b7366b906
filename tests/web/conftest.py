"""Browser fixtures: the real service on 127.0.0.1 and Debian's chromium driven by Playwright.

Outside CI the browser tests are skipped, with the reason, when chromium is missing; in CI
(``CI`` set) a missing chromium fails them, so they cannot silently stop running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, sync_playwright

from devtools import REPO_ROOT
from devtools.service import RunningServer, running_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
# As the machine's notes advise: no sandbox as root, and none of chromium's own traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if Path(CHROMIUM).is_file() or shutil.which(CHROMIUM):
        return CHROMIUM
    message = f"chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium`"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI; {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("browser") / "server.log") as server:
        yield server


@pytest.fixture
def page(chromium_path: str, live_server: RunningServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    service = urlsplit(live_server.base_url).netloc
    off_host: list[str] = []  # URLs the page tried to reach on any host but the service's

    def only_the_service(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in {"http", "https", "ws", "wss"} and url.netloc != service:
            off_host.append(route.request.url)
            route.abort("internetdisconnected")  # the outside world is cut off
        else:
            route.continue_()

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_server.base_url, viewport={"width": 1200, "height": 900})
        context.route("**/*", only_the_service)
        page = context.new_page()
        try:
            yield page
        finally:
            page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
            context.close()
            browser.close()
    assert not off_host, f"the page tried to reach other hosts: {off_host}"
