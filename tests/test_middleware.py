from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from loguru import logger

from tests.conftest import API, ARTICLE_ROW


def access_lines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["name"] == "app.middleware"]


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get(f"{API}/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize("sent", [None, "", "x" * 200, "bad id with spaces", "a\tb"])
def test_missing_or_malformed_request_id_is_replaced(client: TestClient, sent: str | None) -> None:
    headers = {"X-Request-ID": sent} if sent is not None else {}
    response = client.get(f"{API}/health", headers=headers)
    generated = response.headers["X-Request-ID"]
    assert generated != sent
    assert len(generated) == 32
    assert int(generated, 16) >= 0


def test_one_access_line_per_prediction_with_audit_fields(
    client: TestClient, log_records: list[dict[str, Any]]
) -> None:
    response = client.post(
        f"{API}/predict",
        json={"inputs": [ARTICLE_ROW, {**ARTICLE_ROW, "safety": "low"}]},
        headers={"X-Request-ID": "audit-1"},
    )
    assert response.status_code == 200
    [line] = access_lines(log_records)
    extra = line["extra"]
    assert extra["request_id"] == "audit-1"
    assert extra["rows"] == 2
    assert extra["model_version"] == response.json()["version"]
    assert extra["classes"] == {"vgood": 1, "unacc": 1}
    assert f"POST {API}/predict 200" in line["message"]
    assert "ms" in line["message"]


def test_raw_inputs_are_logged_only_at_debug(client: TestClient, log_records: list[dict[str, Any]]) -> None:
    client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW]})
    with_inputs = [r for r in log_records if "'lug_boot'" in r["message"]]
    assert with_inputs
    assert all(r["level"].name == "DEBUG" for r in with_inputs)


def test_cors_allows_a_configured_origin_only(make_client: Any) -> None:
    cors_client = make_client(BACKEND_CORS_ORIGINS="https://cars.example,https://ops.example")
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = cors_client.options(f"{API}/predict", headers={"Origin": "https://cars.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://cars.example"
    refused = cors_client.options(f"{API}/predict", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    simple = cors_client.get(f"{API}/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_applies_to_the_predict_fast_path(make_client: Any) -> None:
    cors_client = make_client(BACKEND_CORS_ORIGINS="https://cars.example")
    body = {"inputs": [ARTICLE_ROW]}
    allowed = cors_client.post(f"{API}/predict", json=body, headers={"Origin": "https://cars.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://cars.example"
    assert "X-Request-ID" in allowed.headers["access-control-expose-headers"]
    other = cors_client.post(f"{API}/predict", json=body, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_access_log_can_be_switched_off(make_client: Any) -> None:
    records: list[Any] = []
    for settings, request_id in (({"ACCESS_LOG": False}, "quiet-1"), ({}, "loud-1")):
        client = make_client(**settings)  # building an app sets up the logging: listen after it
        sink = logger.add(lambda message: records.append(message.record), level="DEBUG")
        client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW]}, headers={"X-Request-ID": request_id})
        logger.remove(sink)
    logged = {r["extra"].get("request_id") for r in access_lines(records)}
    assert "loud-1" in logged
    assert "quiet-1" not in logged
