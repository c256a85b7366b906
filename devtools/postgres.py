"""A PostgreSQL server of its own for tests and benchmarks: Debian's, in a temporary directory.

``initdb`` refuses to run as root, so as root the server's commands run as the ``postgres``
user (``runuser``), which owns the data and socket directories. The server listens on a
free 127.0.0.1 port only, trusts local connections (it holds nothing but test data), and
runs with ``fsync=off``: a test's data need not survive the machine. It can be stopped and
started again on the same port and data (a database that goes down and comes back).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import free_port

DEBIAN_PACKAGE = "postgresql"
USER = "postgres"
DATABASE = "tests"


def pg_bin() -> Path | None:
    """The directory of Debian's PostgreSQL programs (initdb, pg_ctl), the newest installed."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parent.parent.name))
    return versions[-1].parent if versions else None


@dataclass
class RunningPostgres:
    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -F"
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as a crash would)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")


def _owned_by_postgres(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(USER)
        shutil.chown(path, entry.pw_uid, entry.pw_gid)


@contextmanager
def running_postgres(bin_dir: Path) -> Iterator[RunningPostgres]:
    """A new cluster in a temporary directory with a ``tests`` database, started; stopped and removed after.

    The directory is a new one under the system's temporary directory, which the ``postgres``
    user can reach (pytest's own temporary directories are private to root).
    """
    directory = Path(tempfile.mkdtemp(prefix="postgres-"))
    try:
        directory.chmod(0o755)
        server = RunningPostgres(
            bin_dir, directory / "data", directory / "socket", free_port(), directory / "postgres.log"
        )
        _owned_by_postgres(server.data_dir)
        _owned_by_postgres(server.socket_dir)
        if os.geteuid() == 0:
            shutil.chown(directory, USER)  # the log file is written by the server
        server._run("initdb", "-D", str(server.data_dir), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        server.start()
        try:
            server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", USER, DATABASE)
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by the test
                server.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
