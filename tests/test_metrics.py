"""Prometheus metrics: what they count, in process, across two workers, and through a real Prometheus."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.data_plane import Answered, Call
from app.metrics.predictions import WAITING_ROWS, PredictionMetrics
from app.metrics.registry import new_registry
from car_evaluation_model import __version__ as model_version
from car_evaluation_model import make_prediction
from car_evaluation_model.config.core import config
from car_evaluation_model.processing.data_manager import load_dataset
from devtools.programs import require_program
from devtools.prometheus import running_prometheus
from devtools.service import RunningServer, running_server
from tests.conftest import API, ARTICLE_ROW

FEATURES = config.model.feature_names


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def series(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> list[dict[str, str]]:
    return [dict(labels) for sample_name, labels in found if sample_name == name]


@pytest.fixture
def fresh_client(make_client: Any) -> TestClient:
    """An app of its own, so that its metrics start at zero."""
    client: TestClient = make_client()
    return client


def test_predictions_and_input_values_are_counted_exactly(fresh_client: TestClient) -> None:
    rows: Any = load_dataset().drop(columns="class").sample(50, random_state=3).to_dict("records")
    assert fresh_client.post(f"{API}/predict", json={"inputs": rows}).status_code == 200
    found = samples(fresh_client.get("/metrics").text)
    expected = pd.Series(make_prediction(input_data=rows)["predictions"]).value_counts()
    for label in config.model.classes:
        counted = value(found, "car_evaluation_predictions_total", model_version=model_version, **{"class": label})
        assert counted == expected.get(label, 0)
    frame = pd.DataFrame(rows)
    for feature in config.model.features:
        for allowed in feature.values:
            counted = value(found, "car_evaluation_input_values_total", feature=feature.name, value=allowed)
            assert counted == (frame[feature.name] == allowed).sum()
    assert value(found, "car_evaluation_request_rows_sum", api="v1") == 50


def test_input_values_wait_to_be_counted_for_at_most_a_batch_of_rows() -> None:
    registry = new_registry()
    metrics = PredictionMetrics(registry)
    cars: Any = load_dataset().drop(columns="class").sample(WAITING_ROWS, replace=True, random_state=5)

    def predict(rows: Any) -> None:
        result = make_prediction(input_data=rows, keep_rows=True)
        answer = Answered(model_version, result["input_rows"], {"unacc": len(rows)})
        metrics.answered(Call("id", "predict", "v1"), answer)

    def counted(feature: str, allowed: str) -> float | None:
        found: float | None = registry.get_sample_value(
            "car_evaluation_input_values_total", {"feature": feature, "value": allowed}
        )
        return found

    predict(cars.head(1))
    assert sum(counted("safety", allowed) or 0 for allowed in ("low", "med", "high")) == 0  # waits in the batch
    predict(cars.iloc[1:])  # WAITING_ROWS rows now wait: counted without a scrape
    for feature in config.model.features:
        for allowed in feature.values:
            assert counted(feature.name, allowed) == (cars[feature.name] == allowed).sum()


def test_every_allowed_value_has_a_series_from_the_start_and_nothing_else_makes_one(fresh_client: TestClient) -> None:
    hostile = [{**ARTICLE_ROW, "buying": "cheap"}, {"colour": "red"}, {f"field{i}": 1 for i in range(200)}]
    assert fresh_client.post(f"{API}/predict", json={"inputs": hostile}).status_code == 422
    fresh_client.get(f"{API}/no/such/path/{'x' * 50}")
    found = samples(fresh_client.get("/metrics").text)
    inputs = series(found, "car_evaluation_input_values_total")
    assert len(inputs) == sum(len(feature.values) for feature in config.model.features) == 21
    assert all(value(found, "car_evaluation_input_values_total", **labels) == 0 for labels in inputs)
    routes = {labels["route"] for labels in series(found, "car_evaluation_http_requests_total")}
    assert routes == {f"{API}/predict", "unmatched"}
    rejected = series(found, "car_evaluation_rejected_inputs_total")
    assert {labels["field"] for labels in rejected} <= {*FEATURES, "other", "inputs"}
    assert value(found, "car_evaluation_rejected_inputs_total", field="buying", kind="value_not_allowed") == 1
    assert value(found, "car_evaluation_rejected_inputs_total", field="other", kind="unknown_field") > 1


def test_latency_is_by_route_template_method_and_status(fresh_client: TestClient) -> None:
    fresh_client.get("/v2/models/car-evaluation")
    fresh_client.get("/v2/models/anything-at-all")
    found = samples(fresh_client.get("/metrics").text)
    template = "/v2/models/{model_name}"
    assert value(found, "car_evaluation_http_requests_total", route=template, method="GET", status="200") == 1
    assert value(found, "car_evaluation_http_requests_total", route=template, method="GET", status="404") == 1
    labels = {"route": template, "method": "GET", "status": "200"}
    assert value(found, "car_evaluation_http_request_duration_seconds_count", **labels) == 1


def test_v2_predictions_count_too(fresh_client: TestClient) -> None:
    inputs = [{"name": name, "shape": [1], "datatype": "BYTES", "data": [str(ARTICLE_ROW[name])]} for name in FEATURES]
    assert fresh_client.post("/v2/models/car-evaluation/infer", json={"inputs": inputs}).status_code == 200
    assert fresh_client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW]}).status_code == 200
    found = samples(fresh_client.get("/metrics").text)
    assert value(found, "car_evaluation_predictions_total", model_version=model_version, **{"class": "vgood"}) == 2
    assert value(found, "car_evaluation_request_rows_count", api="v2") == 1


def test_model_info_and_training_shares(fresh_client: TestClient) -> None:
    found = samples(fresh_client.get("/metrics").text)
    [info] = series(found, "car_evaluation_model_info")
    assert info["version"] == model_version
    assert info["estimator"] == "HistGradientBoostingClassifier"
    assert value(found, "car_evaluation_training_value_ratio", feature="doors", value="5more") == 0.25
    assert value(found, "car_evaluation_training_value_ratio", feature="safety", value="low") == pytest.approx(1 / 3)
    assert series(found, "process_resident_memory_bytes")  # one process: its own figures


def test_the_exposition_passes_promtool(fresh_client: TestClient) -> None:
    promtool = require_program("promtool", "prometheus")
    fresh_client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW]})
    exposition = fresh_client.get("/metrics").text
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# Two workers, as WEB_CONCURRENCY=2 starts them: every scrape reports the totals of both.


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("two-workers")
    environment = {"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(directory / "metrics")}
    with running_server(directory / "server.log", env=environment) as server:
        yield server


def post(base_url: str, rows: list[Any]) -> None:
    request = urllib.request.Request(
        f"{base_url}{API}/predict",
        data=json.dumps({"inputs": rows}).encode(),
        headers={"Content-Type": "application/json", "Connection": "close"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def scrape(base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        return samples(response.read().decode())


def total_predictions(found: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    return sum(
        value(found, "car_evaluation_predictions_total", **labels)
        for labels in series(found, "car_evaluation_predictions_total")
    )


# A skewed mix: every car with low safety, in 40 requests of 5 rows.
SKEWED = load_dataset().drop(columns="class").query("safety == 'low'").sample(200, random_state=11)


def predictions_counted_by_each_scrape(base_url: str, scrapes: int = 20) -> list[float]:
    """Post SKEWED's 200 rows in 40 requests, then scrape ``scrapes`` times: the predictions each counted."""
    rows = SKEWED.to_dict("records")
    before = total_predictions(scrape(base_url))
    for start in range(0, len(rows), 5):
        post(base_url, rows[start : start + 5])  # a new connection each: every worker answers some
    return [total_predictions(scrape(base_url)) - before for _ in range(scrapes)]


def test_two_workers_report_exact_totals_in_every_scrape(two_workers: RunningServer) -> None:
    assert predictions_counted_by_each_scrape(two_workers.base_url) == [200] * 20
    pids = set()
    for line in two_workers.logs().splitlines():
        if "Started server process" in line:
            pids.add(line.rsplit("[", 1)[-1])
    assert len(pids) == 2, two_workers.logs()


def total_variation_distances(rows: pd.DataFrame) -> dict[str, float]:
    """0.5 * sum over values |share of the rows - share of the training data|, per feature."""
    training = load_dataset()
    return {
        feature.name: 0.5
        * sum(
            abs((rows[feature.name] == allowed).mean() - (training[feature.name] == allowed).mean())
            for allowed in feature.values
        )
        for feature in config.model.features
    }


def test_a_real_prometheus_sees_exact_counts_and_the_drift(two_workers: RunningServer, tmp_path: Path) -> None:
    binary = require_program("prometheus", "prometheus")
    target = two_workers.base_url.removeprefix("http://")
    with running_prometheus([target], tmp_path, binary=binary) as prometheus:
        before = sum(sample.value for sample in prometheus.wait_for("car_evaluation_predictions_total"))
        prometheus.wait_for("car_evaluation:input_rows:1h")  # the counters' state before the traffic is in
        rows = SKEWED.to_dict("records")
        for start in range(0, len(rows), 5):
            post(two_workers.base_url, rows[start : start + 5])
        counted = prometheus.wait_for(f"sum(car_evaluation_predictions_total) == {before + 200}")
        assert counted[0].value == before + 200
        expected = total_variation_distances(SKEWED)
        drift: dict[str, float] = {}
        deadline = time.monotonic() + 30  # the rule runs every second: wait until it has seen all the traffic
        while time.monotonic() < deadline:
            drift = {s.labels["feature"]: s.value for s in prometheus.query("car_evaluation:input_drift_tvd:1h")}
            # Every feature, not one: safety is 2/3 for any part of this traffic, the others are
            # right only once the rule has seen all of it.
            if drift.keys() == expected.keys() and all(abs(drift[f] - d) < 1e-9 for f, d in expected.items()):
                break
            time.sleep(0.2)
        assert drift.keys() == expected.keys()
        for feature, distance in expected.items():
            assert drift[feature] == pytest.approx(distance, abs=1e-9), (feature, drift)
        assert expected["safety"] == pytest.approx(2 / 3)


def test_metrics_can_be_switched_off(make_client: Any) -> None:
    client = make_client(METRICS_ENABLED=False)
    assert client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW]}).json()["predictions"] == ["vgood"]
    assert client.post(f"{API}/predict", json={"inputs": [{}]}).status_code == 422
    assert client.get("/metrics").status_code == 404


def test_the_openapi_document_and_the_static_files_are_counted_by_their_own_route(fresh_client: TestClient) -> None:
    fresh_client.get(f"{API}/openapi.json")
    fresh_client.get("/static/site.css")
    routes = {
        labels["route"]
        for labels in series(samples(fresh_client.get("/metrics").text), "car_evaluation_http_requests_total")
    }
    assert routes == {f"{API}/openapi.json", "/static/{path}"}


def test_routes_included_under_a_prefix_are_counted_by_their_whole_template(fresh_client: TestClient) -> None:
    fresh_client.get(f"/v2/models/car-evaluation/versions/{model_version}/ready")
    fresh_client.get(f"{API}/health")
    routes = {
        labels["route"]
        for labels in series(samples(fresh_client.get("/metrics").text), "car_evaluation_http_requests_total")
    }
    assert routes == {"/v2/models/{model_name}/versions/{model_version}/ready", f"{API}/health"}
