"""Run the service (or another ASGI app) as a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools import REPO_ROOT
from devtools.processes import free_port, running_process


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8")


@contextmanager
def running_server(
    log_path: Path,
    command: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path = REPO_ROOT,
    port: int | None = None,
    *,
    ready_timeout: float = 30.0,
) -> Iterator[RunningServer]:
    """Start the service as ``python -m app`` does (or ``command``, which must listen on
    127.0.0.1:$PORT) and yield once it is healthy, within ``ready_timeout`` s; stop it after.
    ``port`` (default: a free one) lets a replica be restarted where it was."""
    port = port or free_port()
    command = command or [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)]
    base_url = f"http://127.0.0.1:{port}"
    with running_process(
        command,
        log_path=log_path,
        ready_url=f"{base_url}/api/v1/health",
        env={**(env or {}), "PORT": str(port)},
        cwd=cwd,
        ready_timeout=ready_timeout,
    ) as process:
        yield RunningServer(base_url=base_url, process=process, log_path=log_path)
