"""Migrating a SQLite ledger written by an older revision: every prediction is still there, unchanged."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app.ledger.batch import CLASS_COUNT, NO_PREDICTION
from app.ledger.schema import alembic_config, migrate
from app.ledger.store import open_store
from car_evaluation_model import domain_of
from car_evaluation_model.config.core import config

VIEW = "SELECT time, request_id, v2_id, version_id, route_id, row, position, class FROM ledger_prediction_rows"


def by_row_batches() -> list[tuple[tuple[Any, ...], list[int]]]:
    """(time, request id, v2 id, version id, route id) and rows of batches as revision 0001 kept them."""
    at = 1_700_000_000.123456
    return [
        ((at, "0123456789abcdef0123456789abcdef", None, 1, 1), list(range(1000))),
        ((at, "0123456789abcdef0123456789abcdef", None, 2, 1), [0]),  # the same request, another version
        ((at + 1.5, "client-id", "a v2 id", 1, 2), [0, 2, 5]),  # rows with errors between them
        ((at + 1.5, "client-id", "another v2 id", 1, 2), [1, 0]),
        ((at + 86_400.0, "later", None, 1, 1), [0, 1]),
        ((at + 2.0, "upload", None, 1, 3), [25_000, 25_001, 25_003]),  # a file's second chunk
    ]


def write_revision_0001(engine: Engine) -> list[tuple[Any, ...]]:
    migrate(engine, "0001")
    generator, cars = random.Random(1), domain_of(config.model).size
    rows = [
        (*head, row, generator.randrange(cars), generator.randrange(CLASS_COUNT))
        for head, batch_rows in by_row_batches()
        for row in batch_rows
    ]
    generator.shuffle(rows)  # the batches' rows interleaved, as several writers could leave them
    with engine.begin() as connection:
        connection.connection.driver_connection.executemany(  # type: ignore[union-attr]
            "INSERT INTO ledger_predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
    return rows


def view_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(text(VIEW)))


def test_a_sqlite_ledger_of_a_row_per_prediction_becomes_a_row_per_batch(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    written = write_revision_0001(store.engine)
    before = view_rows(store.engine)
    assert before == sorted(written)

    migrate(store.engine)

    assert view_rows(store.engine) == before
    with store.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT request_id, v2_id, version_id, first_row, json_array_length(codes) FROM ledger_predictions")
        )
        batches = sorted(tuple(batch) for batch in stored)
        gaps = connection.execute(
            text(
                "SELECT request_id, first_row + key FROM ledger_predictions, json_each(codes) "
                f"WHERE value = {NO_PREDICTION}"
            )
        )
        rows_without_prediction = sorted(tuple(gap) for gap in gaps)
        plan = connection.execute(text(f"EXPLAIN QUERY PLAN {VIEW} WHERE time >= 1")).all()
    assert batches == [
        ("0123456789abcdef0123456789abcdef", None, 1, 0, 1000),
        ("0123456789abcdef0123456789abcdef", None, 2, 0, 1),
        ("client-id", "a v2 id", 1, 0, 6),
        ("client-id", "another v2 id", 1, 0, 2),
        ("later", None, 1, 0, 2),
        ("upload", None, 1, 25_000, 4),
    ]
    assert rows_without_prediction == [("client-id", 1), ("client-id", 3), ("client-id", 4), ("upload", 25_002)]
    assert any("USING INDEX ledger_predictions_time" in str(step) for step in plan), plan

    with store.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    assert view_rows(store.engine) == before
    store.close()


def test_a_conversion_cut_short_leaves_the_ledger_as_it_was(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    write_revision_0001(store.engine)
    before = view_rows(store.engine)
    with store.engine.begin() as connection:  # the name the conversion renames the old table to, taken
        connection.execute(text("CREATE TABLE ledger_predictions_by_row (taken INTEGER)"))

    with pytest.raises(OperationalError, match="ledger_predictions_by_row"):
        migrate(store.engine)

    assert view_rows(store.engine) == before  # the view, dropped before the failure, is back
    with store.engine.connect() as connection:
        indexes = connection.execute(text("SELECT name FROM sqlite_schema WHERE type = 'index'")).scalars().all()
        revision = connection.execute(text("SELECT version_num FROM ledger_alembic_version")).scalar_one()
    assert "ledger_predictions_time" in indexes
    assert revision == "0001"
    store.close()
