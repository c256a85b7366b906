"""SQLite keeps a batch as one row, as PostgreSQL does: its codes (and rows) as JSON arrays.

A request's predictions are one row of ``ledger_predictions``: ``codes`` a JSON array of
position * number of classes + class, ``rows`` NULL when the rows are 0 .. n-1, else a JSON
array parallel to ``codes``. ``ledger_prediction_rows`` unnests them with ``json_each``, one row
per prediction with the same columns as before, for every query. A ledger written by 0001 (a
row per prediction) is converted: a batch's rows are grouped by what the batch shares. Nothing
changes on PostgreSQL, which has kept batches so since 0001.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from app.ledger.batch import CLASS_COUNT

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
    codes TEXT NOT NULL,  -- JSON array of position * number of classes + class
    rows TEXT             -- NULL: the rows are 0 .. n-1; else a JSON array parallel to codes
)"""
# ``->>`` with an integer is the array's element at that index.
BY_BATCH_VIEW = f"""CREATE VIEW ledger_prediction_rows AS
    SELECT p.time, p.request_id, p.v2_id, p.version_id, p.route_id,
           CASE WHEN p.rows IS NULL THEN c.key ELSE p.rows ->> c.key END AS row,
           c.value / {CLASS_COUNT} AS position, c.value % {CLASS_COUNT} AS class
    FROM ledger_predictions p, json_each(p.codes) AS c"""
TIME_INDEX = "CREATE INDEX ledger_predictions_time ON ledger_predictions (time)"

UPGRADE = [
    "DROP VIEW ledger_prediction_rows",
    "DROP INDEX ledger_predictions_time",
    "ALTER TABLE ledger_predictions RENAME TO ledger_predictions_by_row",
    BY_BATCH,
    # codes and rows aggregated side by side stay parallel whatever order the rows come in.
    f"""INSERT INTO ledger_predictions ({BATCH}, codes, rows)
    SELECT {BATCH}, json_group_array(position * {CLASS_COUNT} + class), json_group_array(row)
    FROM (SELECT * FROM ledger_predictions_by_row ORDER BY {BATCH}, row)
    GROUP BY {BATCH}""",
    "UPDATE ledger_predictions SET rows = NULL WHERE NOT EXISTS (SELECT 1 FROM json_each(rows) WHERE key != value)",
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
    _run_on_sqlite(UPGRADE)


def downgrade() -> None:
    _run_on_sqlite(DOWNGRADE)


def _run_on_sqlite(statements: list[str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # Python's sqlite3 opens a transaction before DML only, so the DDL ahead would be committed
    # one by one: a conversion cut short would leave the ledger half converted. One transaction,
    # committed with the revision's number.
    if not bind.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        op.execute("BEGIN")
    for statement in statements:
        op.execute(statement)
