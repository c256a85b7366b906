"""The real server's log output: every line once, one access line per request."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path

from devtools.service import running_server
from tests.conftest import API, ARTICLE_ROW


def post_json(url: str, body: object, request_id: str) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Request-ID": request_id},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status


def test_uvicorn_logs_go_through_loguru_once(tmp_path: Path) -> None:
    with running_server(tmp_path / "server.log") as server:
        assert post_json(f"{server.base_url}{API}/predict", {"inputs": [ARTICLE_ROW]}, "srv-log-1") == 200
    lines = [line for line in server.logs().splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    # Each line carries loguru's format: time | level | request id | logger - message.
    assert all(line.count(" | ") >= 3 for line in lines), lines
    assert sum("Application startup complete" in line for line in lines) == 1
    assert sum("model car-evaluation-model" in line for line in lines) == 1
    [access] = [line for line in lines if "srv-log-1" in line]
    assert f"POST {API}/predict 200" in access
    assert "rows=1" in access
    assert 'classes={"vgood":1}' in access
    assert 'f"POST {API}/predict HTTP/1.1"' not in server.logs()  # uvicorn's own access line is off
    duplicates = [line for line, count in Counter(lines).items() if count > 1]
    assert not duplicates, duplicates


def test_json_logs(tmp_path: Path) -> None:
    with running_server(tmp_path / "server.log", env={"LOG_JSON": "true"}) as server:
        post_json(f"{server.base_url}{API}/predict", {"inputs": [ARTICLE_ROW]}, "srv-json-1")
    records = [json.loads(line)["record"] for line in server.logs().splitlines() if line.startswith("{")]
    [access] = [r for r in records if r["extra"].get("request_id") == "srv-json-1"]
    assert access["extra"]["rows"] == 1
    assert access["extra"]["classes"] == {"vgood": 1}
    assert access["extra"]["model_version"]
