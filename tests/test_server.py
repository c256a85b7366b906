"""The server as started by the Procfile (``python -m app``): header limits, slow clients, shutdown."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from app.serve import default_arguments, worker_count
from app.server_protocol import GuardedHttpToolsProtocol
from devtools.processes import free_port
from devtools.service import RunningServer, running_server
from tests.conftest import API, ARTICLE_ROW

BODY = orjson.dumps({"inputs": [ARTICLE_ROW]})


def connect(server: RunningServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    return connection


def read_answer(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def post_head(length: int) -> bytes:
    return (
        f"POST {API}/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def exit_status_after(process: subprocess.Popen[bytes], sig: signal.Signals, limit: float) -> int | None:
    """Send ``sig`` and wait up to ``limit`` seconds for the process to end; None if it did not."""
    process.send_signal(sig)
    try:
        return process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(
        tmp_path_factory.mktemp("server") / "server.log", env={"REQUEST_HEADER_TIMEOUT_SECONDS": "1"}
    ) as running:
        yield running


def test_oversize_headers_get_a_431_and_are_not_buffered(server: RunningServer) -> None:
    with connect(server) as connection:
        connection.sendall(f"GET {API}/health HTTP/1.1\r\nHost: test\r\nX-Big: ".encode())
        # Far more than the 32 KiB limit: the server answers and closes long before all of it.
        try:
            for _ in range(2048):
                connection.sendall(b"a" * 16384)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_answer(connection)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"x-request-id: " in answer
    assert b'"type":"headers_too_large"' in answer


def test_a_request_the_parser_refuses_gets_a_400_in_the_apis_shape_with_an_id(server: RunningServer) -> None:
    head = post_head(len(BODY)).replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    with connect(server) as connection:
        connection.sendall(head + BODY)
        answer = read_answer(connection)  # returns once the server closes the connection
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in answer
    assert b"x-request-id: " in answer
    assert b'"type":"http_invalid"' in answer


def test_a_head_after_blank_lines_is_counted_to_its_own_end_not_into_the_body(server: RunningServer) -> None:
    # Blank lines before the request line are allowed (RFC 9112, 2.2). Here the head's own end
    # comes in a later read, followed by a body larger than the head limit: only the head counts.
    body = BODY + b" " * 40_000  # JSON allows trailing white space
    head = (
        f"POST {API}/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n"
    ).encode()
    with connect(server) as connection:
        connection.sendall(b"\r\n\r\n" + head)
        time.sleep(0.2)  # two reads on the server
        connection.sendall(b"\r\n" + body)
        answer = read_answer(connection)
    assert answer.startswith(b"HTTP/1.1 200 ")


def test_headers_that_never_finish_get_a_408_and_the_connection_is_closed(server: RunningServer) -> None:
    with connect(server) as connection:
        connection.sendall(f"GET {API}/health HTTP/1.1\r\nHost: te".encode())
        answer = read_answer(connection)  # returns once the server closes the connection
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"type":"request_timeout"' in answer


def test_a_client_that_disconnects_mid_body_is_logged_once_without_a_traceback(server: RunningServer) -> None:
    with connect(server) as connection:
        connection.sendall(post_head(len(BODY)) + BODY[:5])
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while "client went away" not in server.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in server.logs().splitlines() if "client went away" in line]
    assert len(lines) == 1
    assert f"POST {API}/predict 499" in lines[0]
    assert "Traceback" not in server.logs()
    assert "Exception in ASGI application" not in server.logs()


@pytest.fixture
def stoppable_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of its own, to be stopped by the test, with a 2 s graceful-shutdown timeout."""
    with running_server(tmp_path / "server.log", env={"GRACEFUL_SHUTDOWN_SECONDS": "2"}) as server:
        yield server


def test_sigterm_finishes_a_request_in_flight(stoppable_server: RunningServer) -> None:
    with connect(stoppable_server) as connection:
        connection.sendall(post_head(len(BODY)) + BODY[:10])
        time.sleep(0.2)
        stoppable_server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        connection.sendall(BODY[10:])
        answer = read_answer(connection)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b'"predictions":["vgood"]' in answer
    assert stoppable_server.process.wait(timeout=30) == -signal.SIGTERM


def test_a_stalled_upload_cannot_hold_shutdown_past_the_timeout(stoppable_server: RunningServer) -> None:
    with connect(stoppable_server) as connection:
        connection.sendall(post_head(1000) + b'{"inputs"')
        time.sleep(0.2)
        # The timeout is 2 s; without one, uvicorn waits for the upload for ever.
        status = exit_status_after(stoppable_server.process, signal.SIGTERM, limit=20)
        answer = read_answer(connection)
    assert status == -signal.SIGTERM
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert b'"type":"shutting_down"' in answer
    assert "Traceback" not in stoppable_server.logs()


def test_ctrl_c_stops_the_service_with_exit_status_0(stoppable_server: RunningServer) -> None:
    assert exit_status_after(stoppable_server.process, signal.SIGINT, limit=20) == 0


def test_behind_a_prefix_stripping_proxy_the_schema_names_the_prefix(tmp_path: Path) -> None:
    """``--root-path`` for a proxy that serves the service only under a prefix and strips it
    (deploy/nginx/): Swagger UI's "Try it out" then calls the prefixed paths."""
    command = ["sh", "-c", f"exec {sys.executable} -m app --host 127.0.0.1 --port $PORT --root-path /car-evaluation"]
    with running_server(tmp_path / "server.log", command=command) as server:
        with urllib.request.urlopen(f"{server.base_url}{API}/openapi.json", timeout=10) as response:
            assert json.load(response)["servers"] == [{"url": "/car-evaluation"}]
        request = urllib.request.Request(
            f"{server.base_url}{API}/predict", data=BODY, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["predictions"] == ["vgood"]


@pytest.mark.parametrize(
    ("arguments", "environment", "workers"),
    [
        ([], {}, 1),
        ([], {"WEB_CONCURRENCY": "4"}, 4),
        (["--workers", "2"], {"WEB_CONCURRENCY": "4"}, 2),
        (["--workers=3", "--port", "9000"], {}, 3),
        (["--workers", "2", "--workers", "5"], {}, 5),
    ],
)
def test_the_start_command_counts_the_workers_as_uvicorn_will(
    arguments: list[str], environment: dict[str, str], workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert worker_count(arguments) == workers


def test_one_worker_keeps_its_metrics_in_memory_with_its_process_metrics(server: RunningServer) -> None:
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=10) as response:
        exposition = response.read().decode()
    assert "process_resident_memory_bytes" in exposition
    assert "car_evaluation_input_values_total" in exposition


@pytest.mark.parametrize("gap", [0.02, 0.3], ids=["together", "as tox forwards it"])
def test_ctrl_c_twice_still_stops_the_service_cleanly(tmp_path: Path, gap: float) -> None:
    with running_server(tmp_path / "server.log") as server:
        request = urllib.request.Request(
            f"{server.base_url}{API}/predict", data=BODY, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        server.process.send_signal(signal.SIGINT)
        time.sleep(gap)
        status = exit_status_after(server.process, signal.SIGINT, limit=20)
    logs = server.logs()
    assert status == 0
    assert "Traceback" not in logs
    assert f"POST {API}/predict 200" in logs  # the access log was flushed
    assert "application stopped" in logs


def test_the_settings_an_app_is_built_with_reach_the_servers_header_limit() -> None:
    port = free_port()
    config = uvicorn.Config(
        create_app(Settings(MAX_REQUEST_HEADER_BYTES=2048)),
        host="127.0.0.1",
        port=port,
        http=GuardedHttpToolsProtocol,
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            # 4 KiB: under the environment's 32 KiB default, over this app's 2 KiB.
            connection.sendall(f"GET {API}/health HTTP/1.1\r\nHost: test\r\nX-Big: {'a' * 4096}\r\n\r\n".encode())
            answer = read_answer(connection)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"larger than the limit of 2048 bytes" in answer


def test_the_start_command_takes_the_shutdown_bound_from_the_settings() -> None:
    arguments = default_arguments(Settings(GRACEFUL_SHUTDOWN_SECONDS=7))
    assert arguments[arguments.index("--timeout-graceful-shutdown") + 1] == "7"
