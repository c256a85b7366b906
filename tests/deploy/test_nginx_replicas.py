"""Two replicas (the Procfile's web command) behind nginx with deploy/nginx/car-evaluation.conf.

Restarts and crashes of a replica must not reach clients, slow clients must not reach the
replicas, and the page and /docs must work behind an https proxy and under a path prefix.
Run with -s to see the figures.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from devtools.nginx import RunningNginx
from tests.conftest import API, ARTICLE_ROW
from tests.deploy.conftest import Replica
from tests.deploy.load import SteadyLoad

PREDICT_PATH = f"{API}/predict"
FILE_PATH = f"{API}/predict/file"
PREFIX = "/car-evaluation"
# fail_timeout in the config (5 s) plus a margin: by then nginx tries a restarted replica again.
BACK_IN_ROTATION_S = 15.0


def retried(lines: list[str]) -> list[str]:
    """Access log lines of requests that nginx sent to more than one replica."""
    return [line for line in lines if re.search(r"upstream=\S+, ", line)]


def wait_for_log_line(proxy: RunningNginx, pattern: str, *, after: int, count: int = 1) -> None:
    """Wait until ``count`` access log lines past line ``after`` match ``pattern``."""
    deadline = time.monotonic() + BACK_IN_ROTATION_S
    while time.monotonic() < deadline:
        if len([line for line in proxy.access_lines()[after:] if re.search(pattern, line)]) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {count} access log lines matching {pattern!r} within {BACK_IN_ROTATION_S} s")


def test_a_rolling_restart_under_load_fails_no_request(replicas: list[Replica], proxy: RunningNginx) -> None:
    with SteadyLoad(proxy.base_url + PREDICT_PATH, max_seconds=120) as load:
        load.wait_for(300)
        for replica in replicas:
            status = replica.stop(signal.SIGTERM)
            assert status in (0, -signal.SIGTERM), f"{replica.name} exited with {status} on SIGTERM"
            mark = len(proxy.access_lines())
            replica.start()
            # The next replica goes down only once this one is serving again, as a rolling restart does.
            wait_for_log_line(proxy, rf"upstream=127\.0\.0\.1:{replica.port} upstream_status=200 ", after=mark)
        load.wait_for(300)
    lines = proxy.access_lines()
    print(
        f"\nrolling restart (SIGTERM, restart, each of 2 replicas): {load.requests} requests, "
        f"{len(load.failures)} failed, {len(retried(lines))} retried by nginx on the other replica"
    )
    assert load.failures == []


def test_a_killed_replica_fails_no_request(replicas: list[Replica], proxy: RunningNginx) -> None:
    killed = replicas[0]
    with SteadyLoad(proxy.base_url + PREDICT_PATH, max_seconds=120) as load:
        load.wait_for(300)
        mark = len(proxy.access_lines())
        requests_before = load.requests
        assert killed.stop(signal.SIGKILL) == -signal.SIGKILL
        wait_for_log_line(proxy, rf"upstream=127\.0\.0\.1:{killed.port}, ", after=mark)  # nginx saw it die
        # About 7 s of the load's 200 requests a second: past fail_timeout (5 s), so nginx
        # tries the dead replica again at least once, and retries that attempt too.
        load.wait_for(1500)
    print(
        f"\nSIGKILL of 1 of 2 replicas: {load.requests} requests ({load.requests - requests_before} after the kill), "
        f"{len(load.failures)} failed, {len(retried(proxy.access_lines()[mark:]))} retried on the other replica"
    )
    # Every attempt a dead replica fails is retried: nothing reached the client before it died.
    assert load.failures == []


def established_connections(port: int) -> int:
    """TCP connections accepted on 127.0.0.1:``port`` and still open (from /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    rows = [line.split() for line in Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]]
    return sum(1 for row in rows if row[1] == local and row[3] == "01")


class SlowClients:
    """Connections that send their request one byte a second: half stall in the headers, half in the body."""

    def __init__(self, address: tuple[str, int], count: int) -> None:
        head = f"POST {PREDICT_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        self.headers_only = [(socket.create_connection(address), head + "X-Slow: ") for _ in range(count // 2)]
        self.with_body = [
            (socket.create_connection(address), head + "Content-Length: 1000\r\n\r\n" + '{"inputs": [')
            for _ in range(count - count // 2)
        ]
        self.closed_by_nginx: set[socket.socket] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def _trickle(self) -> None:
        clients = [(sock, prefix) for sock, prefix in self.headers_only + self.with_body]
        for sock, prefix in clients:
            sock.sendall(prefix.encode())
        while not self._stop.wait(1.0):
            for sock, _ in clients:
                if sock in self.closed_by_nginx:
                    continue
                try:
                    sock.sendall(b" ")
                    sock.setblocking(False)
                    try:
                        if sock.recv(4096) == b"":
                            self.closed_by_nginx.add(sock)
                    except BlockingIOError:
                        pass
                    finally:
                        sock.setblocking(True)
                except OSError:
                    self.closed_by_nginx.add(sock)

    def __enter__(self) -> SlowClients:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock, _prefix in self.headers_only + self.with_body:
            sock.close()


def predict_once(base_url: str) -> int:
    request = urllib.request.Request(
        base_url + PREDICT_PATH,
        data=json.dumps({"inputs": [ARTICLE_ROW]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    # nginx's longest timeout on the way (proxy_read_timeout 10 s): a starved replica would exceed it.
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_slow_clients_are_held_by_nginx_not_the_replicas(replicas: list[Replica], proxy: RunningNginx) -> None:
    slow_clients = 50
    host_port = urlsplit(proxy.base_url)
    statuses: list[int] = []
    peak_replica_connections = 0
    with SlowClients((host_port.hostname or "", host_port.port or 80), slow_clients) as slow:
        # Past client_header_timeout (10 s), with a margin: nginx must have cut the header stallers off.
        deadline = time.monotonic() + 14
        while time.monotonic() < deadline:
            statuses.append(predict_once(proxy.base_url))
            peak_replica_connections = max(
                peak_replica_connections, sum(established_connections(replica.port) for replica in replicas)
            )
            time.sleep(0.1)
        headers_cut_off = sum(1 for sock, _ in slow.headers_only if sock in slow.closed_by_nginx)
        bodies_cut_off = sum(1 for sock, _ in slow.with_body if sock in slow.closed_by_nginx)
    print(
        f"\n{slow_clients} slow clients: {len(statuses)} normal requests meanwhile, all {set(statuses)}; "
        f"replicas' peak open connections {peak_replica_connections}; nginx closed {headers_cut_off} "
        f"header stallers and {bodies_cut_off} body tricklers"
    )
    assert set(statuses) == {200}
    # Without request buffering nginx would hold one replica connection per slow body.
    assert peak_replica_connections < slow_clients // 2
    assert headers_cut_off == len(slow.headers_only)
    assert bodies_cut_off == 0  # a byte a second is within client_body_timeout: nginx keeps buffering


def test_nginx_refuses_oversize_requests_before_any_replica(proxy: RunningNginx) -> None:
    address = urlsplit(proxy.base_url).netloc
    connection = http.client.HTTPConnection(address, timeout=10)
    body = b" " * (2 * 1024 * 1024 + 1)  # one byte over MAX_REQUEST_BODY_BYTES
    connection.request("POST", PREDICT_PATH + "?probe=body", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 413
    assert response.getheader("Content-Type") == "application/json"
    assert [detail["type"] for detail in answer["detail"]] == ["body_too_large"]

    connection = http.client.HTTPConnection(address, timeout=10)
    # 36 KB of headers, over the 32 KiB limit, in lines that each fit nginx's 8 KiB buffers.
    connection.request("GET", f"{API}/health?probe=headers", headers={f"X-Filler-{n}": "x" * 4000 for n in range(9)})
    status = connection.getresponse().status
    connection.close()
    assert status == 400

    for probe in ("body", "headers"):
        wait_for_log_line(proxy, rf"\?probe={probe} HTTP/1.1\" \d+ \d+ upstream=- ", after=0)


def multipart_csv(rows: int) -> tuple[bytes, str]:
    """A multipart form whose field ``file`` is a CSV of ``rows`` cars (24 bytes each), and its content type."""
    boundary = "car-evaluation-test-boundary"
    csv = ",".join(ARTICLE_ROW) + "\n" + (",".join(str(value) for value in ARTICLE_ROW.values()) + "\n") * rows
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cars.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_file_upload_has_the_services_upload_limit_not_the_body_limit(proxy: RunningNginx) -> None:
    """A file over the 2 MiB body limit, within MAX_UPLOAD_BYTES, reaches a replica (at the root, under the prefix)."""
    address = urlsplit(proxy.base_url).netloc
    rows = 130_000
    body, content_type = multipart_csv(rows)
    assert 3_000_000 < len(body) < 4_000_000
    for prefix in ("", PREFIX):
        connection = http.client.HTTPConnection(address, timeout=60)
        connection.request(
            "POST", f"{prefix}{FILE_PATH}?probe=upload", body=body, headers={"Content-Type": content_type}
        )
        response = connection.getresponse()
        scored = response.read()
        connection.close()
        assert response.status == 200, scored[:500]
        assert (response.getheader("X-Rows"), response.getheader("X-Rows-Rejected")) == (str(rows), "0")

    # Over MAX_UPLOAD_BYTES: nginx refuses from the Content-Length alone, in the service's shape.
    connection = http.client.HTTPConnection(address, timeout=10)
    connection.putrequest("POST", FILE_PATH + "?probe=oversize-upload")
    connection.putheader("Content-Type", content_type)
    connection.putheader("Content-Length", str(66 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert (response.status, response.getheader("Content-Type")) == (413, "application/json")
    assert [detail["type"] for detail in answer["detail"]] == ["file_too_large"]
    wait_for_log_line(proxy, r"\?probe=oversize-upload HTTP/1.1\" 413 \d+ upstream=- ", after=0)


LINK = re.compile(r"""(?:href|src|data-api)="([^"]+)"|url: '([^']+)'""")


def links(html: str) -> list[str]:
    return [first or second for first, second in LINK.findall(html)]


def test_page_and_docs_work_behind_https_and_under_a_prefix(proxy: RunningNginx) -> None:
    redirect = http.client.HTTPConnection(urlsplit(proxy.base_url).netloc, timeout=10)
    redirect.request("GET", PREFIX)
    response = redirect.getresponse()
    assert (response.status, response.getheader("Location")) == (301, f"{PREFIX}/")
    redirect.close()

    for prefix in ("", PREFIX):
        for page in (f"{prefix}/", f"{prefix}/docs"):
            request = urllib.request.Request(proxy.base_url + page, headers={"X-Forwarded-Proto": "https"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                html = answer.read().decode()
            found = links(html)
            assert found, f"no links in {page}"
            assert not [link for link in found if link.startswith("http://")], found
            for link in found:
                url = urljoin(proxy.base_url + page, link)
                if urlsplit(url).netloc != urlsplit(proxy.base_url).netloc:
                    continue  # another site (the data set's DOI), over https
                assert urlsplit(url).path.startswith(f"{prefix}/"), (page, link)
                if url.endswith(PREDICT_PATH):
                    assert predict_once(url.removesuffix(PREDICT_PATH)) == 200
                elif url.endswith(FILE_PATH):  # POST only: the app's 405 shows the link reaches it
                    with pytest.raises(urllib.error.HTTPError) as refused:
                        urllib.request.urlopen(url, timeout=10)
                    assert (refused.value.code, refused.value.headers["Allow"]) == (405, "POST")
                else:
                    with urllib.request.urlopen(url, timeout=10) as asset:
                        assert asset.status == 200, url
