"""A private package index on 127.0.0.1: pypiserver with password auth and no fallback.

    CAR_EVALUATION_INDEX_USER=... CAR_EVALUATION_INDEX_PASSWORD=... python -m release.index [--port 8080] [--fill]

serves ``.index-packages/`` until stopped (Ctrl-C), for trying the release flow locally;
``--fill`` first puts in it the model package requirements.txt pins, built from this
repository (``release.seed``), so that the deploy installs from it at once;
the tests start and stop their own with ``package_index()``. Uploads, listings and downloads
all need the password; pypiserver never falls back to PyPI (``--disable-fallback``), so the
index only ever answers with what was uploaded to it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from passlib.apache import HtpasswdFile

from devtools.processes import free_port, running_process
from release.seed import SeedError, build_pinned


@dataclass(frozen=True)
class Index:
    url: str  # http://127.0.0.1:PORT/ (uploads go here; pip reads url + "simple/")
    packages: Path

    @property
    def simple_url(self) -> str:
        return f"{self.url}simple/"

    def simple_url_with(self, user: str, password: str) -> str:
        """The pip URL carrying credentials: keep it in an environment variable, never in a file."""
        host = self.url.removeprefix("http://")
        return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{host}simple/"


@contextmanager
def package_index(
    packages: Path, *, credentials: tuple[str, str] | None, log_path: Path, port: int | None = None
) -> Iterator[Index]:
    """Run pypiserver on 127.0.0.1 over ``packages``; with credentials, every action needs them."""
    packages.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    with tempfile.TemporaryDirectory() as private_dir:
        if credentials:
            htpasswd = HtpasswdFile(str(Path(private_dir) / "htpasswd"), new=True, default_scheme="sha256_crypt")
            htpasswd.set_password(*credentials)
            htpasswd.save()
            auth = ["-a", "update,download,list", "-P", str(htpasswd.path)]
        else:
            auth = ["-a", ".", "-P", "."]
        command = [
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            *auth,
            "--disable-fallback",
            "--hash-algo",
            "sha256",
            str(packages),
        ]
        url = f"http://127.0.0.1:{port}/"
        # Any answer (401 included) means it is up.
        with running_process(command, log_path=log_path, ready_url=f"{url}health", any_status=True):
            yield Index(url=url, packages=packages)


def _stop(signal_number: int, frame: object) -> None:
    sys.exit(0)  # unwinds the context managers, which stop pypiserver and remove its password file


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=Path, default=Path(".index-packages"))
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fill", action="store_true", help="first add the pinned model package, built here")
    args = parser.parse_args()
    try:
        credentials = (os.environ["CAR_EVALUATION_INDEX_USER"], os.environ["CAR_EVALUATION_INDEX_PASSWORD"])
    except KeyError as missing:
        sys.exit(f"set {missing.args[0]} (the index's user and password come from the environment)")
    args.packages.mkdir(parents=True, exist_ok=True)
    if args.fill:
        try:
            wheel = build_pinned(args.packages)
        except SeedError as error:
            sys.exit(f"cannot fill the index: {error}")
        print(f"{wheel.name}, as requirements.txt pins it, is in {args.packages}")
    log_path = args.packages / "pypiserver.log"
    with package_index(args.packages, credentials=credentials, log_path=log_path, port=args.port) as index:
        install_url = f"http://<user>:<password>@{index.url.removeprefix('http://')}simple/"
        print(
            f"private index at {index.url}: uploads TWINE_REPOSITORY_URL={index.url}, "
            f"installs PIP_EXTRA_INDEX_URL={install_url}; Ctrl-C stops it",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
