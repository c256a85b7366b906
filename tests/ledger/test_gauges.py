"""Live performance on /metrics: /api/v1/performance's figures, read once per max age, never a failed scrape."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.ledger.gauges import PerformanceCollector
from app.main import create_app
from devtools.ledger_batches import answered
from devtools.postgres import RunningPostgres
from devtools.programs import require_program
from devtools.prometheus import running_prometheus
from devtools.service import RunningServer, running_server
from tests.conftest import API
from tests.inference_protocol.clients import ALL_CARS
from tests.ledger.conftest import OpenLedger, new_database

TOKEN = secrets.token_hex(16)
CARS: list[dict[str, Any]] = ALL_CARS.sample(30, random_state=11).to_dict("records")  # type: ignore[assignment]
CLASSES = ["unacc", "acc", "good", "vgood"]


def served_app(ledger_url: str | None, data_dir: Path) -> TestClient:
    settings = Settings(
        _env_file=None,
        LEDGER_URL=ledger_url,
        LEDGER_DATA_DIR=data_dir,
        LEDGER_FLUSH_SECONDS=0.02,
        FEEDBACK_TOKEN=TOKEN,
    )
    return TestClient(create_app(settings))


@pytest.fixture
def served(ledger_url: str | None, tmp_path: Path) -> Iterator[TestClient]:
    with served_app(ledger_url, tmp_path / "data") as client:
        yield client


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def predict_and_label(client: TestClient) -> None:
    answer = client.post(f"{API}/predict", json={"inputs": CARS}, headers={"X-Request-ID": "g-1"})
    assert answer.status_code == 200
    predicted = answer.json()["predictions"]
    # Twenty rows labelled: the first ten as predicted, the next ten with another class (wrong).
    labels = [
        {"request_id": "g-1", "row": row, "label": label if row < 10 else CLASSES[(CLASSES.index(label) + 1) % 4]}
        for row, label in enumerate(predicted[:20])
    ]
    feedback = client.post(f"{API}/feedback", json={"labels": labels}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert feedback.status_code == 200
    assert client.app.state.ledger.drain(30)  # type: ignore[attr-defined]


def test_gauges_equal_the_performance_route(served: TestClient) -> None:
    predict_and_label(served)
    [version] = served.get(f"{API}/performance").json()["versions"]
    assert (version["predictions"], version["labelled"], version["accuracy"]) == (30, 20, 0.5)

    found = samples(served.get("/metrics").text)

    name = version["model_version"]
    by_version = (("model_version", name),)
    assert found[("car_evaluation_ledger_performance_up", ())] == 1
    assert found[("car_evaluation_ledger_predictions", by_version)] == 30
    assert found[("car_evaluation_ledger_labelled", by_version)] == 20
    assert found[("car_evaluation_ledger_accuracy", by_version)] == 0.5
    assert found[("car_evaluation_ledger_estimated_accuracy", by_version)] == version["estimated_accuracy"]
    assert found[("car_evaluation_ledger_brier", by_version)] == pytest.approx(version["brier"], rel=1e-12)
    cell = "car_evaluation_ledger_confusion"
    confusion = [
        [found[(cell, (("label", label), ("model_version", name), ("predicted", p)))] for p in CLASSES]
        for label in CLASSES
    ]
    assert confusion == version["confusion_matrix"]
    recalls = {dict(labels)["class"]: value for (metric, labels), value in found.items() if metric.endswith("_recall")}
    assert recalls == {
        label: scores["recall"] for label, scores in version["per_class"].items() if scores["support"] > 0
    }


def request_json(url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    # A new connection each time: either worker may answer.
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", "Connection": "close", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode() if url.endswith("/metrics") else json.loads(response.read())


# 240 predictions, every one labelled unacc: enough labels (200) for the alert rules to compare.
WORKER_CARS: list[dict[str, Any]] = ALL_CARS.sample(240, random_state=13).to_dict("records")  # type: ignore[assignment]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, Any]]]:
    """The service with two workers and its ledger on, its predictions labelled and written: with
    what /api/v1/performance answers for them."""
    directory = tmp_path_factory.mktemp("two-workers")
    environment = {
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(directory / "metrics"),
        "LEDGER_URL": f"sqlite:///{directory / 'ledger.sqlite3'}",
        "LEDGER_DATA_DIR": str(directory / "data"),
        "LEDGER_FLUSH_SECONDS": "0.05",
        "FEEDBACK_TOKEN": TOKEN,
    }
    with running_server(directory / "server.log", env=environment) as server:
        api = f"{server.base_url}{API}"
        for index in range(8):
            rows = WORKER_CARS[index * 30 : index * 30 + 30]
            request_json(f"{api}/predict", {"inputs": rows}, {"X-Request-ID": f"w-{index}"})
            labels = [{"request_id": f"w-{index}", "row": row, "label": "unacc"} for row in range(len(rows))]
            request_json(f"{api}/feedback", {"labels": labels}, {"Authorization": f"Bearer {TOKEN}"})
        deadline = time.monotonic() + 30
        while not (versions := request_json(f"{api}/performance")["versions"]) or versions[0]["predictions"] < 240:
            assert time.monotonic() < deadline, "the workers' writers did not write every prediction"
            time.sleep(0.2)
        [version] = versions
        assert version["labelled"] == 240
        yield server, version


def test_every_worker_scraped_gives_the_figures_once(two_workers: tuple[RunningServer, dict[str, Any]]) -> None:
    server, version = two_workers
    by_version = (("model_version", version["model_version"]),)
    for _ in range(6):
        exposition = request_json(f"{server.base_url}/metrics")
        accuracy = [line for line in exposition.splitlines() if line.startswith("car_evaluation_ledger_accuracy{")]
        assert len(accuracy) == 1, exposition  # one series, not one per worker
        found = samples(exposition)
        assert found[("car_evaluation_ledger_accuracy", by_version)] == version["accuracy"]
        assert found[("car_evaluation_ledger_labelled", by_version)] == 240


def test_a_real_prometheus_records_the_live_performance(
    two_workers: tuple[RunningServer, dict[str, Any]], tmp_path: Path
) -> None:
    binary = require_program("prometheus", "prometheus")
    server, version = two_workers
    target = server.base_url.removeprefix("http://")
    with running_prometheus([target], tmp_path, binary=binary, target_labels=[{"track": "stable"}]) as prometheus:
        [served] = prometheus.wait_for("car_evaluation:served_version")
        [accuracy] = prometheus.wait_for("car_evaluation:ledger_accuracy")
        [stable] = prometheus.wait_for("car_evaluation:ledger_stable_accuracy")
        [share] = prometheus.wait_for("car_evaluation:ledger_labelled_share")
        # Labels all unacc: the accuracy is the unacc share of the predictions, far below the
        # estimate; the alert is pending (it fires after 15 minutes).
        [pending] = prometheus.wait_for('ALERTS{alertname="CarEvaluationAccuracyBelowEstimate"}')
        below_stable = prometheus.query('ALERTS{alertname="CarEvaluationAccuracyBelowStable"}')

    name = version["model_version"]
    assert served.labels == {"__name__": "car_evaluation:served_version", "track": "stable", "model_version": name}
    assert accuracy.labels == {"__name__": "car_evaluation:ledger_accuracy", "model_version": name}
    assert accuracy.value == version["accuracy"]
    assert version["estimated_accuracy"] - version["accuracy"] > 0.05
    assert stable.value == version["accuracy"]  # the version the stable target serves, with 240 labels
    assert share.value == 1.0
    assert pending.labels["model_version"] == name
    assert pending.labels["alertstate"] == "pending"
    assert below_stable == []  # no canary


def test_a_version_without_labels_has_no_accuracy(served: TestClient) -> None:
    assert served.post(f"{API}/predict", json={"inputs": CARS[:3]}).status_code == 200
    assert served.app.state.ledger.drain(30)  # type: ignore[attr-defined]

    found = samples(served.get("/metrics").text)

    names = {metric for metric, _ in found}
    assert "car_evaluation_ledger_predictions" in names
    assert "car_evaluation_ledger_accuracy" not in names
    assert "car_evaluation_ledger_brier" not in names
    assert "car_evaluation_ledger_recall" not in names


def test_the_scrape_answers_while_the_database_is_down(own_postgres: RunningPostgres, tmp_path: Path) -> None:
    with served_app(new_database(own_postgres), tmp_path / "data") as client:
        predict_and_label(client)
        own_postgres.stop()
        try:
            answer = client.get("/metrics")
        finally:
            own_postgres.start()

    assert answer.status_code == 200
    found = samples(answer.text)
    assert found[("car_evaluation_ledger_performance_up", ())] == 0
    assert not any(metric.startswith("car_evaluation_ledger_accuracy") for metric, _ in found)
    assert any(metric == "car_evaluation_model_info" for metric, _ in found)  # the rest is all there


def eventually(condition: Callable[[], bool], timeout: float = 30) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds (a background read finishing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_database_is_read_once_per_max_age(ledger_url: str | None, open_ledger: OpenLedger) -> None:
    ledger = open_ledger(ledger_url)
    reads: list[int] = []

    def performance() -> list[dict[str, Any]]:
        reads.append(1)
        return ledger.performance()

    clock = Clock()
    registry = CollectorRegistry()
    registry.register(PerformanceCollector(performance, max_age=30, clock=clock))
    ledger.record(answered("first", [1, 2, 3]))
    assert ledger.drain(30)

    def predictions() -> float:
        found = samples(generate_latest(registry).decode())
        return sum(value for (metric, _), value in found.items() if metric == "car_evaluation_ledger_predictions")

    assert predictions() == 3
    ledger.record(answered("second", [4, 5]))
    assert ledger.drain(30)
    clock.now = 29.9
    assert predictions() == 3  # read less than 30 s ago
    clock.now = 30
    assert predictions() == 3  # stale: answered at once, read anew in the background
    assert eventually(lambda: predictions() == 5)
    assert len(reads) == 2


def scraped_up(collector: PerformanceCollector) -> Callable[[], float]:
    """A scrape of ``collector`` alone, giving ``car_evaluation_ledger_performance_up``."""
    registry = CollectorRegistry()
    registry.register(collector)
    return lambda: samples(generate_latest(registry).decode())[("car_evaluation_ledger_performance_up", ())]


def test_a_failed_read_is_up_0_until_one_succeeds() -> None:
    failing = True

    def performance() -> list[dict[str, Any]]:
        if failing:
            raise ConnectionError("the database is down")
        return []

    clock = Clock()
    up = scraped_up(PerformanceCollector(performance, max_age=30, clock=clock))

    assert up() == 0
    failing = False
    assert up() == 0  # the failure is kept for the max age: a database that is down is not hammered
    clock.now = 30
    assert eventually(lambda: up() == 1)


def test_a_scrape_waits_for_no_read_but_the_first() -> None:
    """A stale figure is read anew on another thread; meanwhile scrapes answer with the last, starting no read."""
    held = threading.Event()
    readers: list[threading.Thread] = []

    def performance() -> list[dict[str, Any]]:
        readers.append(threading.current_thread())
        if len(readers) > 1:
            held.wait(5)
        return []

    clock = Clock()
    up = scraped_up(PerformanceCollector(performance, max_age=30, clock=clock))

    assert up() == 1
    assert readers == [threading.current_thread()]  # the first read: the scrape has nothing else to show
    clock.now = 30
    assert [up(), up(), up()] == [1, 1, 1]
    held.set()
    assert eventually(lambda: len(readers) == 2)
    assert readers[1] is not threading.current_thread()
    assert len(readers) == 2
