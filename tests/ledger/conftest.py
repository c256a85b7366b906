"""The ledger on a real PostgreSQL (Debian's, started here) and on its embedded SQLite default.

``ledger_url`` runs a test on both: a new database of the session's server for each test,
or LEDGER_URL unset (SQLite under the test's data directory). Batches are the model
package's real answers.
"""

from __future__ import annotations

import collections
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text

from app.ledger import Ledger, LedgerSettings
from app.ledger.metrics import LedgerMetrics
from devtools import REPO_ROOT
from devtools.postgres import RunningPostgres
from devtools.programs import server_for_tests


@pytest.fixture(scope="session")
def postgres() -> Iterator[RunningPostgres]:
    yield from server_for_tests()


@pytest.fixture
def own_postgres() -> Iterator[RunningPostgres]:
    """A server of the test's own, which it may stop and start."""
    yield from server_for_tests()


def new_database(server: RunningPostgres) -> str:
    name = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(server.url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return server.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["postgresql", "sqlite"])
def ledger_url(request: pytest.FixtureRequest) -> str | None:
    """A new PostgreSQL database's URL, or None: LEDGER_URL unset, the SQLite default."""
    if request.param == "sqlite":
        return None
    server: RunningPostgres = request.getfixturevalue("postgres")
    return new_database(server)


def ledger_settings(url: str | None, data_dir: Path, **overrides: Any) -> LedgerSettings:
    return LedgerSettings(
        _env_file=None,
        LEDGER_URL=url,
        DATABASE_URL=None,
        LEDGER_DATA_DIR=data_dir,
        LEDGER_FLUSH_SECONDS=0.02,
        **overrides,
    )


def run_ledger_command(
    url: str | None, data_dir: Path, *args: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    """``python -m app.ledger ARGS`` with the ledger at ``url`` (its default when None), and ``settings``."""
    env = {"LEDGER_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), **settings}
    if url is not None:
        env["LEDGER_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "app.ledger", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


OpenLedger = Callable[..., Ledger]


def records_per_row(engine: Engine) -> collections.Counter[tuple[str, int]]:
    """Every record the database holds, by (request id, row): the view shows them all, queries the latest."""
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT request_id, row, count(*) FROM ledger_prediction_rows GROUP BY request_id, row")
        )
        return collections.Counter({(request, int(row)): int(count) for request, row, count in found})


@pytest.fixture
def open_ledger(tmp_path: Path) -> Iterator[OpenLedger]:
    """``open_ledger(url, **settings)``: a ledger with its own metrics registry, closed after the test."""
    opened: list[Ledger] = []

    def open_(url: str | None, data_dir: Path = tmp_path / "data", **overrides: Any) -> Ledger:
        ledger = Ledger.open(ledger_settings(url, data_dir, **overrides), LedgerMetrics(CollectorRegistry()))
        assert ledger is not None
        opened.append(ledger)
        return ledger

    yield open_
    for ledger in opened:
        ledger.close(timeout=5)
