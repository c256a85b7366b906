"""The Grafana dashboard parses, and its queries name only metrics the service exposes or the rules record."""

from __future__ import annotations

import json
import re
from typing import Any

import promql_parser
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from devtools import REPO_ROOT
from tests.conftest import API, ARTICLE_ROW

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "car-evaluation.json"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules.yml"

# Grafana's query for a variable's values, not PromQL.
LABEL_VALUES = re.compile(r"label_values\((?P<metric>[a-zA-Z_:][a-zA-Z0-9_:]*),\s*\w+\)")


def exposed_names(client: TestClient) -> set[str]:
    """The sample names the service's own /metrics shows, once every route kind has been used."""
    client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW]})
    client.post(f"{API}/predict", json={"inputs": [{**ARTICLE_ROW, "buying": "cheap"}]})
    exposition = client.get("/metrics").text
    return {sample.name for family in text_string_to_metric_families(exposition) for sample in family.samples}


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


def panel_queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_metric_names_finds_every_selector() -> None:
    expr = 'sum by (le) (rate(a_bucket{x="$v"}[5m])) / on () group_left () b:c:1h > 0 and d'
    assert metric_names(expr) == {"a_bucket", "b:c:1h", "d"}


def test_queries_name_only_exposed_or_recorded_metrics(client: TestClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    known = exposed_names(client) | recorded_names()
    assert "car_evaluation:input_drift_tvd:1h" in known

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
