from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.access_log import NAME
from tests.conftest import API, ARTICLE_ROW


def access_lines(captured: pytest.CaptureFixture[str], expected: str) -> list[str]:
    """The access lines written to stderr so far; one of them has ``expected``."""
    lines = [line for line in captured.readouterr().err.splitlines() if f" | {NAME} - " in line]
    assert any(expected in line for line in lines), lines
    return lines


def fields_of(line: str) -> dict[str, str]:
    """The ``key=value`` fields after an access line's status and time."""
    return dict(re.findall(r" (\w+)=(\S+)", line))


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
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.post(
        f"{API}/predict",
        json={"inputs": [ARTICLE_ROW, {**ARTICLE_ROW, "safety": "low"}]},
        headers={"X-Request-ID": "audit-1"},
    )
    assert response.status_code == 200
    [line] = [line for line in access_lines(capsys, "audit-1") if "audit-1" in line]
    assert f" | INFO     | audit-1 | {NAME} - POST {API}/predict 200 " in line
    assert re.search(r" 200 \d+\.\d\dms ", line)
    fields = fields_of(line)
    assert fields.keys() == {"rows", "model_version", "classes"}
    assert fields["rows"] == "2"
    assert fields["model_version"] == response.json()["version"]
    assert json.loads(fields["classes"]) == {"vgood": 1, "unacc": 1}


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


def test_access_log_can_be_switched_off(make_client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for settings, request_id in (
        ({"ACCESS_LOG": False}, "quiet-1"),
        ({"LOG_LEVEL": "WARNING"}, "quiet-2"),
        ({}, "loud-1"),
    ):
        client = make_client(**settings)
        client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW]}, headers={"X-Request-ID": request_id})
    logged = " ".join(access_lines(capsys, "loud-1"))
    assert "loud-1" in logged
    assert "quiet-1" not in logged
    assert "quiet-2" not in logged
