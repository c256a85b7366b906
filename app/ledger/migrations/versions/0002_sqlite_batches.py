"""SQLite keeps a batch as one row, as PostgreSQL does: its first row and its codes as a JSON array.

A request's predictions are one row of ``ledger_predictions``: ``first_row``, and ``codes``, a
JSON array with one code (position * number of classes + class) per row from there, or
``NO_PREDICTION`` for a row between two answered ones that was refused. ``ledger_prediction_rows``
unnests it with ``json_each``, whose key is the row's offset (a row found by its index, not
searched for), one row per prediction with the same columns as before, for every query. A
ledger written by 0001 (a row per prediction) is converted: a batch's rows are grouped by what
the batch shares. Nothing changes on PostgreSQL, which has kept batches so since 0001.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from itertools import groupby

import orjson
from alembic import op

from app.ledger.batch import CLASS_COUNT, NO_PREDICTION

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BATCH = "time, request_id, v2_id, version_id, route_id"
BY_ROW = """CREATE TABLE ledger_predictions_by_row (
    time REAL NOT NULL, request_id TEXT NOT NULL, v2_id TEXT, version_id INTEGER NOT NULL,
    route_id INTEGER NOT NULL, row INTEGER NOT NULL, position INTEGER NOT NULL, class INTEGER NOT NULL)"""
BY_ROW_VIEW = f"""CREATE VIEW ledger_prediction_rows AS
    SELECT {BATCH}, row, position, class FROM ledger_predictions"""
BY_BATCH = """CREATE TABLE ledger_predictions (
    time REAL NOT NULL, request_id TEXT NOT NULL, v2_id TEXT, version_id INTEGER NOT NULL,
    route_id INTEGER NOT NULL,
    first_row INTEGER NOT NULL,
    codes TEXT NOT NULL  -- JSON array: per row from first_row, position * number of classes + class
)"""
BY_BATCH_VIEW = f"""CREATE VIEW ledger_prediction_rows AS
    SELECT p.time, p.request_id, p.v2_id, p.version_id, p.route_id, p.first_row + c.key AS row,
           c.value / {CLASS_COUNT} AS position, c.value % {CLASS_COUNT} AS class
    FROM ledger_predictions p, json_each(p.codes) AS c
    WHERE c.value != {NO_PREDICTION}"""
TIME_INDEX = "CREATE INDEX ledger_predictions_time ON ledger_predictions (time)"

BEFORE_CONVERSION = [
    "DROP VIEW ledger_prediction_rows",
    "DROP INDEX ledger_predictions_time",
    "ALTER TABLE ledger_predictions RENAME TO ledger_predictions_by_row",
    BY_BATCH,
]
AFTER_CONVERSION = [
    "DROP TABLE ledger_predictions_by_row",
    TIME_INDEX,
    BY_BATCH_VIEW,
]

DOWNGRADE = [
    BY_ROW,
    f"INSERT INTO ledger_predictions_by_row SELECT {BATCH}, row, position, class FROM ledger_prediction_rows",
    "DROP VIEW ledger_prediction_rows",
    "DROP TABLE ledger_predictions",
    "ALTER TABLE ledger_predictions_by_row RENAME TO ledger_predictions",
    TIME_INDEX,
    BY_ROW_VIEW,
]


def upgrade() -> None:
    if _begun_on_sqlite():
        _run(BEFORE_CONVERSION)
        _convert()
        _run(AFTER_CONVERSION)


def downgrade() -> None:
    if _begun_on_sqlite():
        _run(DOWNGRADE)


def _begun_on_sqlite() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    # Python's sqlite3 opens a transaction before DML only, so the DDL ahead would be committed
    # one by one: a conversion cut short would leave the ledger half converted. One transaction,
    # committed with the revision's number.
    if not bind.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        op.execute("BEGIN")
    return True


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _convert() -> None:
    """Each batch's rows, read in order, written as its first row and its codes."""
    raw = op.get_bind().connection.driver_connection
    by_row = raw.execute(  # type: ignore[union-attr]
        f"SELECT {BATCH}, row, position * {CLASS_COUNT} + class FROM ledger_predictions_by_row ORDER BY {BATCH}, row"
    )
    raw.executemany(  # type: ignore[union-attr]
        "INSERT INTO ledger_predictions VALUES (?, ?, ?, ?, ?, ?, ?)",
        (_batch(head, [(row, code) for *_, row, code in rows]) for head, rows in groupby(by_row, lambda r: r[:5])),
    )


def _batch(head: tuple[object, ...], coded_rows: list[tuple[int, int]]) -> tuple[object, ...]:
    first, last = coded_rows[0][0], coded_rows[-1][0]
    codes = [NO_PREDICTION] * (last - first + 1)
    for row, code in coded_rows:
        codes[row - first] = code
    return (*head, first, orjson.dumps(codes).decode())
