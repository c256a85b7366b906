"""Replicas of the service, each the Procfile's web command, behind Debian's nginx with the shipped config."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from devtools.nginx import NGINX, RunningNginx, running_nginx
from devtools.processes import free_port
from devtools.procfile import web_process
from devtools.programs import require_program
from devtools.service import RunningServer, running_server
from tests.conftest import API
from tests.release.conftest import genuine, password, private_index, workdir  # noqa: F401 (fixtures)

HEALTH_PATH = f"{API}/health"
# The platform's limit: Heroku (and Kubernetes by default) SIGKILL 30 s after SIGTERM.
SHUTDOWN_DEADLINE_S = 30


class Replica:
    """One replica on a fixed 127.0.0.1 port, which can be stopped, killed and started again there."""

    def __init__(
        self,
        name: str,
        directory: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.name, self.directory, self.port = name, directory, free_port()
        self.workers, self.env, self.ready_timeout = workers, env or {}, ready_timeout
        self.starts = 0
        self._stack = ExitStack()
        self.server: RunningServer | None = None

    def start(self) -> None:
        command, env = web_process()
        self.starts += 1
        log_path = self.directory / f"{self.name}-{self.starts}.log"
        # One worker per replica by default: two replicas already fill this machine's two cores.
        env = {**env, **self.env, "WEB_CONCURRENCY": str(self.workers)}
        self.server = self._stack.enter_context(
            running_server(log_path, command=command, env=env, port=self.port, ready_timeout=self.ready_timeout)
        )

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self.server is not None, f"{self.name} is not running"
        return self.server.process

    def stop(self, sig: signal.Signals) -> int:
        """Send ``sig`` and wait (up to the platform's deadline) for the exit status."""
        self.process.send_signal(sig)
        status = self.process.wait(timeout=SHUTDOWN_DEADLINE_S)
        self._stack.close()
        self.server = None
        return status

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Replica]]:
    require_program(NGINX, "nginx-light")
    started = [Replica(name, tmp_path) for name in ("a", "b")]
    try:
        for replica in started:
            replica.start()
        yield started
    finally:
        for replica in started:
            replica.close()


@pytest.fixture
def proxy(replicas: list[Replica], tmp_path: Path) -> Iterator[RunningNginx]:
    with running_nginx(tmp_path / "nginx", [replica.port for replica in replicas], HEALTH_PATH) as nginx:
        yield nginx


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_program("promtool", "prometheus")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return require_program("prometheus", "prometheus")
