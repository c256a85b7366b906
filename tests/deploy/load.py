"""Steady, bounded client load: a few threads posting predictions over keep-alive (one row, or calls given)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

from tests.conftest import ARTICLE_ROW

BODY = json.dumps({"inputs": [ARTICLE_ROW]}).encode()


def one_article_row(answer: bytes) -> bool:
    return bool(json.loads(answer)["predictions"] == ["vgood"])


@dataclass(frozen=True)
class Call:
    """One request to send: its path, JSON body and headers, and what a right answer's body passes."""

    path: str
    body: bytes
    check: Callable[[bytes], bool]
    headers: dict[str, str] = field(default_factory=dict)


class SteadyLoad:
    """Post predictions to ``url`` from ``threads`` threads until stopped, or ``max_requests`` or ``max_seconds``.

    Each thread sends at most ``per_thread_per_s`` requests a second: steady traffic, not a
    flood that would starve the replicas (and their restarts) of the machine's two cores.

    Each request is ``calls()`` (default: one row posted to ``url``). Every request that does not
    get a 200 with a right answer is a failure, recorded with its cause; the others are kept in
    ``answered``.
    """

    def __init__(
        self,
        url: str,
        *,
        threads: int = 4,
        per_thread_per_s: float = 50.0,
        max_requests: int = 50_000,
        max_seconds: float = 60.0,
        calls: Callable[[], Call] | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.calls = calls or (lambda: Call(self.path, BODY, one_article_row))
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.interval_s = 1.0 / per_thread_per_s
        self.requests = 0
        self.failures: list[str] = []
        self.answered: list[Call] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> SteadyLoad:
        self._deadline = time.monotonic() + self.max_seconds
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def wait_for(self, more_requests: int, timeout: float = 30.0) -> None:
        """Block until ``more_requests`` more requests have been answered (or failed)."""
        target = self.requests + more_requests
        deadline = time.monotonic() + timeout
        while self.requests < target:
            if time.monotonic() > deadline or self._stop.is_set():
                raise TimeoutError(f"the load reached {self.requests} requests, not {target}")
            time.sleep(0.05)

    def _running(self) -> bool:
        return not self._stop.is_set() and self.requests < self.max_requests and time.monotonic() < self._deadline

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        while self._running():
            next_start = time.monotonic() + self.interval_s
            call, failure = self.calls(), None
            try:
                headers = {"Content-Type": "application/json", **call.headers}
                connection.request("POST", call.path, body=call.body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200 or not call.check(answer):
                    failure = f"{response.status} {answer[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
                failure = repr(error)
                connection.close()  # the next request opens a new connection
            with self._lock:
                self.requests += 1
                if failure is not None:
                    self.failures.append(failure)
                else:
                    self.answered.append(call)
            self._stop.wait(max(0.0, next_start - time.monotonic()))
        connection.close()
        self._stop.set()  # a bound was reached (or a stop asked for): wait_for must not hang
