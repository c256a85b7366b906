"""The monitoring page of a service whose ledger is off says so, in chromium, and its HTML links only to this host."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient


def test_the_page_says_the_ledger_is_off(page: Any) -> None:
    # The browser fixtures' service runs with LEDGER_URL=off (tests/conftest.py).
    page.goto("monitoring")
    page.locator('#monitoring[data-loaded="true"]').wait_for()
    error = page.get_by_role("alert")
    assert error.inner_text() == "the prediction ledger is off (LEDGER_URL=off)"
    assert page.locator("#versions tbody tr").count() == 0


def test_the_page_and_its_link_are_relative(client: TestClient) -> None:
    # Relative links: the page works under a path prefix that a proxy strips.
    assert 'href="monitoring"' in client.get("/").text
    page = client.get("/monitoring")
    assert page.status_code == 200
    assert 'data-performance="api/v1/performance"' in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {asset for asset in assets if asset.startswith("static/")} == {
        "static/swagger-ui/favicon-32x32.png",
        "static/site.css",
        "static/monitoring.css",
        "static/monitoring.js",
    }
    for asset in assets:
        assert not re.match(r"[a-z]+:|/", asset), asset
        assert client.get(f"/{asset.removeprefix('./')}").status_code == 200
