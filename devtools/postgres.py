"""A PostgreSQL server of a test's own: Debian's, in a temporary directory, on a free 127.0.0.1 port.

``initdb`` refuses to run as root: as root, the server's commands run as the ``postgres`` user,
who then owns the data directory. The server trusts local connections and stops (fast) on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import free_port

DEBIAN_PACKAGE = "postgresql"
SERVER_USER = "postgres"


@dataclass(frozen=True)
class RunningPostgres:
    host: str
    port: int
    user: str
    dbname: str

    @property
    def conninfo(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"


def server_bin() -> Path | None:
    """The directory of Debian's newest PostgreSQL server programs (``initdb``, ``pg_ctl``), if any."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3]))
    return versions[-1].parent if versions else None


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def running_postgres(bin_dir: Path, dbname: str = "cars", timeout: float = 60.0) -> Iterator[RunningPostgres]:
    """A fresh cluster with the database ``dbname``, served until the block ends."""
    top = Path(tempfile.mkdtemp(prefix="car-evaluation-postgres-"))
    data, sockets = top / "data", top / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(top, SERVER_USER)
        shutil.chown(sockets, SERVER_USER)
    port = free_port()
    log = top / "server.log"

    def run(*command: str) -> None:
        subprocess.run(_as_server_user(list(command)), check=True, capture_output=True, timeout=timeout)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8")
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -F"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        try:
            run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", dbname)
            yield RunningPostgres("127.0.0.1", port, "postgres", dbname)
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(top, ignore_errors=True)
