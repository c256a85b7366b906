"""External programs the tests need (promtool, prometheus, PostgreSQL...): found, or the test is skipped or failed.

The one module of devtools that imports pytest: the benchmarks use the others without it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import NoReturn

import pytest

from devtools.postgres import DEBIAN_PACKAGE, RunningPostgres, pg_bin, running_postgres


def require_program(name: str, debian_package: str) -> str:
    """The path of ``name``. Missing, it skips the test with the install command, or fails it in CI.

    In CI (``CI`` set) a missing program is an error, so such tests cannot silently stop running.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    unavailable(f"{name} not found: install it with `apt-get install -y {debian_package}`")


def unavailable(message: str) -> NoReturn:
    """Skip the test for a missing prerequisite, saying why; in CI, fail it instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (it must be there in CI)")
    pytest.skip(message)


def server_for_tests() -> Iterator[RunningPostgres]:
    """A started server for a fixture to yield from; missing, a skip with the install command (a failure in CI)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        unavailable(f"PostgreSQL's server is not installed: install it with `apt-get install -y {DEBIAN_PACKAGE}`")
    with running_postgres(bin_dir) as server:
        yield server
