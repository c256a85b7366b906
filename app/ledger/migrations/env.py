"""Alembic's environment for the ledger: migrations run on the connection ``app.ledger.schema`` hands over."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table="ledger_alembic_version")
with context.begin_transaction():
    context.run_migrations()
