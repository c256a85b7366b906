"""The access log's lines, written as each request ends, and its JSON lines (text lines: test_middleware.py)."""

from __future__ import annotations

import json

import pytest

from app.access_log import NAME, AccessLog
from app.request_state import access_log_fields


def scope(request_id: str) -> dict[str, object]:
    answered: dict[str, object] = {"method": "POST", "path": "/api/v1/predict"}
    access_log_fields(answered).update(rows=1, classes={"acc": 1}, request=request_id)
    return answered


def logged(captured: pytest.CaptureFixture[str]) -> list[str]:
    return captured.readouterr().err.splitlines()


def test_each_line_is_written_as_its_request_ends(capsys: pytest.CaptureFixture[str]) -> None:
    access_log = AccessLog(json=False)
    for number in range(3):
        access_log.write(scope(f"r-{number}"), f"r-{number}", 200, 0.001)
        [line] = logged(capsys)
        assert f" | INFO     | r-{number} | {NAME} - POST /api/v1/predict 200 1.00ms rows=1 " in line


def test_json_lines_carry_the_request_id_and_fields_as_loguru_records_do(capsys: pytest.CaptureFixture[str]) -> None:
    AccessLog(json=True).write(scope("r-json"), "r-json", 422, 0.002)
    [line] = logged(capsys)
    entry = json.loads(line)
    record = entry["record"]
    assert record["extra"] == {
        "request_id": "r-json",
        "method": "POST",
        "path": "/api/v1/predict",
        "status": 422,
        "duration_ms": 2.0,
        "rows": 1,
        "classes": {"acc": 1},
        "request": "r-json",
    }
    assert record["level"] == {"name": "INFO", "no": 20}
    assert record["name"] == NAME
    assert record["message"].startswith("POST /api/v1/predict 422 2.00ms")
    assert entry["text"].endswith(f" | r-json | {NAME} - {record['message']}\n")
    assert record["time"]["repr"] in entry["text"]


def test_a_path_cannot_start_a_line_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    forged = "/x\n2026-01-01 00:00:00.000 | INFO     | admin | app.access - POST /admin 200"

    AccessLog(json=False).write({"method": "GET", "path": forged}, "r-forged", 404, 0.001)
    [line] = logged(capsys)
    assert "/x\\n2026-01-01" in line
