"""Creating and migrating the ledger's schema with alembic (``python -m app.ledger migrate``).

Every worker of every replica migrates at start: one at a time, the others then find the
schema current. PostgreSQL serialises them with an advisory lock held by the migration's
transaction; SQLite, one file on one host, with a lock file beside the database.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the ledger's tables to ``revision`` (the newest by default); a no-op when they are."""
    with _one_at_a_time(engine), engine.begin() as connection:
        _lock(connection)
        command.upgrade(alembic_config(connection), revision)


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration for the ledger's migrations, run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('ledger migrations'))"))


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database:
        yield
        return
    with Path(f"{database}.migrate.lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield
