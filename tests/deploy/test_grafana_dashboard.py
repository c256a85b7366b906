"""The Grafana dashboard parses, and its queries name only metrics the service exposes or the rules record."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import promql_parser
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from devtools import REPO_ROOT
from tests.conftest import API, ARTICLE_ROW

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "car-evaluation.json"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules.yml"

# Labels Prometheus adds to every series it scrapes (the job, the target, its `track`).
TARGET_LABELS = {"job", "instance", "track"}
TOKEN = secrets.token_hex(16)

# Grafana's query for a variable's values, not PromQL.
LABEL_VALUES = re.compile(r"label_values\((?P<metric>[a-zA-Z_:][a-zA-Z0-9_:]*),\s*\w+\)")


@pytest.fixture
def ledger_client(tmp_path: Path, make_client: Callable[..., TestClient]) -> TestClient:
    """The service with its ledger on (SQLite), so that /metrics shows the live performance too.

    ``tmp_path`` first: set up before the client, it is removed after the client has stopped.
    """
    return make_client(
        _env_file=None,
        LEDGER_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        LEDGER_DATA_DIR=tmp_path / "data",
        LEDGER_FLUSH_SECONDS=0.02,
        FEEDBACK_TOKEN=TOKEN,
    )


def exposed_labels(client: TestClient) -> dict[str, set[str]]:
    """The sample names the service's own /metrics shows, and their label names, once every
    route kind has been used and a prediction labelled."""
    client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW]}, headers={"X-Request-ID": "dashboard-1"})
    client.post(f"{API}/predict", json={"inputs": [{**ARTICLE_ROW, "buying": "cheap"}]})
    label = {"request_id": "dashboard-1", "row": 0, "label": "vgood"}
    feedback = client.post(f"{API}/feedback", json={"labels": [label]}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert feedback.status_code == 200
    assert client.app.state.ledger.drain(30)  # type: ignore[attr-defined]
    exposition = client.get("/metrics").text
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def recorded_names() -> set[str]:
    return set(re.findall(r"^\s*- record: (\S+)$", RULES.read_text(encoding="utf-8"), flags=re.MULTILINE))


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (it must be valid PromQL)."""
    names: set[str] = set()

    def collect(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name is not None:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), collect)
    return names


def matched_labels(expr: str) -> dict[str, set[str]]:
    """Per metric ``expr`` selects, the label names its selectors match on or its aggregations keep."""
    found: dict[str, set[str]] = {}

    def collect(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name is not None:
            found.setdefault(node.name, set()).update(matcher.name for matcher in node.matchers.matchers)
        if (
            isinstance(node, promql_parser.AggregateExpr)
            and isinstance(node.expr, promql_parser.VectorSelector)
            and node.expr.name is not None
            and node.modifier is not None
            and str(node.modifier).startswith("by")
        ):
            found.setdefault(node.expr.name, set()).update(node.modifier.labels)

    promql_parser.walk(promql_parser.parse(expr), collect)
    return found


def panel_queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_metric_names_finds_every_selector() -> None:
    expr = 'sum by (le) (rate(a_bucket{x="$v"}[5m])) / on () group_left () b:c:1h > 0 and d'
    assert metric_names(expr) == {"a_bucket", "b:c:1h", "d"}


def test_matched_labels_finds_matchers_and_kept_labels() -> None:
    expr = 'max by (label) (a{v="$v"}) / on () group_left () sum(b{w="1"}) + rate(c[5m])'
    assert matched_labels(expr) == {"a": {"v", "label"}, "b": {"w"}, "c": set()}


def test_queries_name_only_exposed_or_recorded_metrics(ledger_client: TestClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    known = set(exposed_labels(ledger_client)) | recorded_names()
    assert "car_evaluation:input_drift_tvd:1h" in known
    assert "car_evaluation_ledger_confusion" in known

    names = {name for expr in panel_queries(dashboard) for name in metric_names(expr)}
    for variable in dashboard["templating"]["list"]:
        match = LABEL_VALUES.fullmatch(variable["query"]["query"])
        assert match is not None, variable
        names.add(match["metric"])

    assert names, "the dashboard has no query"
    assert names <= known, f"unknown metrics: {sorted(names - known)}"


def test_every_panel_has_a_query_and_its_own_place() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    assert panels
    assert all(panel["targets"] and all(target["expr"] for target in panel["targets"]) for panel in panels)
    assert len({panel["id"] for panel in panels}) == len(panels)
    places = [(panel["gridPos"]["x"], panel["gridPos"]["y"]) for panel in panels]
    assert len(set(places)) == len(places)


def test_queries_of_exposed_metrics_use_only_their_labels(ledger_client: TestClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exposed = exposed_labels(ledger_client)
    used: dict[str, set[str]] = {}
    for expr in panel_queries(dashboard):
        for name, labels in matched_labels(expr).items():
            used.setdefault(name, set()).update(labels)
    assert used["car_evaluation_ledger_confusion"] == {"model_version", "label", "predicted"}

    for name, labels in used.items():
        if name in exposed:
            assert labels <= exposed[name] | TARGET_LABELS, f"{name} has no label {sorted(labels - exposed[name])}"
