"""The monitoring page in headless chromium: the service records predictions, labels arrive by
/feedback, and the page's table, chart and heat map show what /api/v1/performance answers."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.service import RunningServer, running_server
from tests.conftest import API
from tests.inference_protocol.clients import ALL_CARS

TOKEN = secrets.token_hex(16)
CARS: list[dict[str, Any]] = ALL_CARS.sample(60, random_state=23).to_dict("records")  # type: ignore[assignment]
CLASSES = ["unacc", "acc", "good", "vgood"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The service with its ledger on (SQLite in a temporary directory): the browser fixtures use it."""
    directory = tmp_path_factory.mktemp("monitoring")
    environment = {
        "LEDGER_URL": f"sqlite:///{directory / 'ledger.sqlite3'}",
        "LEDGER_DATA_DIR": str(directory / "data"),
        "LEDGER_FLUSH_SECONDS": "0.05",
        "FEEDBACK_TOKEN": TOKEN,
    }
    with running_server(directory / "server.log", env=environment) as server:
        yield server


def call(server: RunningServer, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(
        server.base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def performance(server: RunningServer, since: str, until: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"since": since, "until": until})
    versions: list[dict[str, Any]] = call(server, f"{API}/performance?{query}")["versions"]
    return versions


@pytest.fixture(scope="module")
def labelled(live_server: RunningServer) -> int:
    """60 predictions, 45 of them labelled: the first 30 as predicted, the next 15 with the next class."""
    predicted = call(live_server, f"{API}/predict", {"inputs": CARS}, {"X-Request-ID": "monitoring-1"})["predictions"]
    wrong = {label: CLASSES[(index + 1) % 4] for index, label in enumerate(CLASSES)}
    labels = [
        {"request_id": "monitoring-1", "row": row, "label": label if row < 30 else wrong[label]}
        for row, label in enumerate(predicted[:45])
    ]
    call(live_server, f"{API}/feedback", {"labels": labels}, {"Authorization": f"Bearer {TOKEN}"})
    deadline = time.monotonic() + 30
    while not (versions := call(live_server, f"{API}/performance")["versions"]) or versions[0]["predictions"] < 60:
        assert time.monotonic() < deadline, "the ledger's writer did not write the predictions"
        time.sleep(0.1)
    return len(labels)


def loaded(page: Any) -> dict[str, str]:
    """The window the page shows, once it has drawn it."""
    page.locator('#monitoring[data-loaded="true"]').wait_for()
    return {key: page.locator("#monitoring").get_attribute(f"data-{key}") for key in ("since", "until")}


def test_the_page_shows_the_ledgers_figures(
    page: Any, live_server: RunningServer, labelled: int, tmp_path: Path
) -> None:
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.on("console", lambda message: script_errors.append(message.text) if message.type == "error" else None)
    page.goto("/")
    page.get_by_role("link", name="Monitoring").click()
    assert page.url == f"{live_server.base_url}/monitoring"
    window = loaded(page)
    assert page.locator("#error").is_hidden()
    [version] = performance(live_server, window["since"], window["until"])
    assert (version["predictions"], version["labelled"], version["accuracy"]) == (60, labelled, 30 / 45)

    row = page.locator(f'#versions tr[data-version="{version["model_version"]}"]')
    assert row.locator(".predictions").inner_text() == "60"
    assert row.locator(".labelled").inner_text() == "45"
    assert row.locator(".share .value").inner_text() == "75.0%"
    assert row.locator(".accuracy").inner_text() == "66.67%"
    assert row.locator(".estimated").inner_text() == f"{version['estimated_accuracy'] * 100:.2f}%"

    heatmap = page.locator(f'.heatmap[data-version="{version["model_version"]}"]')
    cell = '.cell[data-label="{}"][data-predicted="{}"]'
    shown = [
        [int(heatmap.locator(cell.format(label, predicted)).get_attribute("data-count")) for predicted in CLASSES]
        for label in CLASSES
    ]
    assert shown == version["confusion_matrix"]
    for label, counts in zip(CLASSES, version["confusion_matrix"], strict=True):
        for predicted, count in zip(CLASSES, counts, strict=True):
            named = heatmap.get_by_role("img", name=f"true {label}, predicted {predicted}: {count}", exact=True)
            assert named.locator("text").text_content() == str(count)

    # Every labelled prediction falls in one bucket (two, if made across a bucket's edge): each
    # point is that bucket's accuracy, as the route answers it for the bucket's times.
    points = page.locator("#accuracy-chart circle.point").all()
    assert 1 <= len(points) <= 2
    labelled_in_points = 0
    for point in points:
        [bucket] = performance(live_server, point.get_attribute("data-since"), point.get_attribute("data-until"))
        assert float(point.get_attribute("data-accuracy")) == bucket["accuracy"]
        labelled_in_points += int(point.get_attribute("data-labelled"))
    assert labelled_in_points == labelled

    assert script_errors == []
    screenshot = tmp_path / "monitoring.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
    assert screenshot.stat().st_size > 10_000


def seconds_between(since: str | None, until: str | None) -> float:
    assert since is not None
    assert until is not None
    return (datetime.fromisoformat(until) - datetime.fromisoformat(since)).total_seconds()


def test_a_shorter_window_draws_more_buckets(page: Any, labelled: int) -> None:
    page.goto("monitoring")
    loaded(page)
    page.select_option("#window", "3600")
    window = loaded(page)
    assert seconds_between(window["since"], window["until"]) == 3600
    points = page.locator("#accuracy-chart circle.point").all()
    assert sum(int(point.get_attribute("data-labelled")) for point in points) == labelled
    for point in points:  # a twelfth of the hour each
        assert seconds_between(point.get_attribute("data-since"), point.get_attribute("data-until")) == 300
