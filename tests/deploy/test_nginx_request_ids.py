"""deploy/nginx/car-evaluation.conf gives every replica it tries one request's request id.

nginx retries a POST on the next replica when the first drops it (non_idempotent). The first
replica may have recorded the prediction in the ledger before it died, and the ledger counts a
request id and row once: so both attempts must carry the same id, whether or not the client
sent one. Two stand-in replicas record the X-Request-ID each receives; the first drops every
POST without answering, as a killed worker does.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools.nginx import NGINX, RunningNginx, running_nginx
from devtools.programs import require_program

PREDICT_PATH = "/api/v1/predict"
READY_PATH = "/health"
# After a failure nginx leaves the dropping replica out for fail_timeout (5 s in the config):
# requests are sent, a few a second, until one is tried on both, for at most this long.
RETRIED_WITHIN_S = 15.0


class StandIn(ThreadingHTTPServer):
    def __init__(self, name: str, *, drops: bool, received: list[tuple[str, str | None]]) -> None:
        self.name, self.drops, self.received = name, drops, received
        super().__init__(("127.0.0.1", 0), StandInHandler)


class StandInHandler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(b"{}")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append((self.server.name, self.headers.get("X-Request-ID")))
        if self.server.drops:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self._answer(b"{}")

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def received() -> list[tuple[str, str | None]]:
    return []


@pytest.fixture
def proxy(received: list[tuple[str, str | None]], tmp_path: Path) -> Iterator[RunningNginx]:
    require_program(NGINX, "nginx-light")
    replicas = [StandIn("dies", drops=True, received=received), StandIn("answers", drops=False, received=received)]
    threads = [threading.Thread(target=replica.serve_forever, daemon=True) for replica in replicas]
    for thread in threads:
        thread.start()
    try:
        ports = [replica.server_address[1] for replica in replicas]
        with running_nginx(tmp_path / "nginx", ports, READY_PATH) as nginx:
            yield nginx
    finally:
        for replica in replicas:
            replica.shutdown()
            replica.server_close()


def ids_of_a_retried_request(
    proxy: RunningNginx, received: list[tuple[str, str | None]], headers: dict[str, str]
) -> dict[str, str | None]:
    """The X-Request-ID each replica received for a request nginx tried on both."""
    deadline = time.monotonic() + RETRIED_WITHIN_S
    while time.monotonic() < deadline:
        received.clear()
        request = urllib.request.Request(f"{proxy.base_url}{PREDICT_PATH}", data=b"{}", headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        if len(received) == 2:
            return dict(received)
        time.sleep(0.25)
    raise AssertionError(f"no request was tried on both replicas within {RETRIED_WITHIN_S} s")


def test_a_retried_request_carries_one_request_id_to_both_replicas(
    proxy: RunningNginx, received: list[tuple[str, str | None]]
) -> None:
    made_by_nginx = ids_of_a_retried_request(proxy, received, {})
    assert made_by_nginx["dies"] == made_by_nginx["answers"]
    assert re.fullmatch(r"[0-9a-f]{32}", made_by_nginx["dies"] or ""), made_by_nginx
    assert ids_of_a_retried_request(proxy, received, {"X-Request-ID": "client-7"}) == {
        "dies": "client-7",
        "answers": "client-7",
    }
