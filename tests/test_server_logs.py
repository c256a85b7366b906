"""The real server's log output: every line once, one access line per request."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

from devtools import REPO_ROOT
from devtools.processes import free_port
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


def test_with_json_logs_every_line_of_several_workers_and_their_supervisor_is_json(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with running_server(tmp_path / "server.log", command=command, env={"LOG_JSON": "true"}, port=port) as server:
        post_json(f"{server.base_url}{API}/predict", {"inputs": [ARTICLE_ROW]}, "srv-json-2")
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=30) == 0
    lines = [line for line in server.logs().splitlines() if line.strip()]
    records = [json.loads(line)["record"] for line in lines]  # fails on any line that is not JSON
    names = {record["name"] for record in records}
    assert "uvicorn.supervisors.multiprocess" in names  # the supervisor's own lines
    [access] = [record for record in records if record["extra"].get("request_id") == "srv-json-2"]
    assert {key: access["extra"][key] for key in ("method", "path", "status", "rows")} == {
        "method": "POST",
        "path": f"{API}/predict",
        "status": 200,
        "rows": 1,
    }
    assert access["extra"]["duration_ms"] > 0


def test_the_middleware_and_the_server_protocol_know_nothing_of_the_routes() -> None:
    probe = (
        "import json, sys, app.middleware, app.server_protocol; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('app.'))))"
    )
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    modules = json.loads(imported.stdout)
    assert modules
    assert [module for module in modules if module.startswith(("app.api", "app.web", "app.main"))] == []


def test_the_server_protocol_loads_neither_the_model_nor_its_libraries() -> None:
    probe = "import json, sys, app.server_protocol; print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    top_level = set(json.loads(imported.stdout))
    assert "uvicorn" in top_level
    assert top_level.isdisjoint({"car_evaluation_model", "pandas", "sklearn", "pyarrow", "fastapi", "numpy"})
