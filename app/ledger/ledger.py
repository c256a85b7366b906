"""The prediction ledger: what the service calls, on the event loop, for every answered batch.

``record`` appends the batch to this process's spool (no database round trip); a writer
thread moves the spool into the database. Labels, performance and the export read the
database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from app.ledger.batch import RecordedBatch
from app.ledger.export import export
from app.ledger.labels import CheckedLabel, LabelError, check_labels
from app.ledger.metrics import LedgerMetrics
from app.ledger.performance import performance_sql, prediction_filter, summarise
from app.ledger.schema import migrate
from app.ledger.settings import LedgerSettings
from app.ledger.spool import Spool
from app.ledger.store import Store, open_store
from app.ledger.writer import Writer

logger = logging.getLogger(__name__)


class LedgerUnavailableError(Exception):
    """The ledger's database cannot be reached (down, or refusing connections): try again later.

    Its message is for anyone; ``reason``, the driver's words (host, port, user, database), is
    for the operator: the log and the ledger's commands.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("the prediction ledger's database cannot be reached; try again later")
        self.reason = reason


@contextmanager
def database_reached() -> Iterator[None]:
    """``LedgerUnavailableError`` for the database's connection failing in the block, its reason on one line."""
    try:
        yield
    except OperationalError as error:
        # psycopg adds hints on the lines after the first.
        reason = str(error.orig or error).splitlines()[0]
        raise LedgerUnavailableError(reason) from error


class Ledger:
    def __init__(self, store: Store, spool: Spool, writer: Writer) -> None:
        self.store = store
        self.spool = spool
        self.writer = writer
        self._closed = False

    @classmethod
    def open(cls, settings: LedgerSettings, metrics: LedgerMetrics) -> Ledger | None:
        """The ledger the settings name, its schema migrated and its writer started; None when off."""
        url = settings.database_url()
        if url is None:
            return None
        settings.make_directories()
        store = open_store(url)
        try:
            migrate(store.engine)
            migrated = True
        except OperationalError as error:
            # A worker (re)started while the database is down still serves: a failed start would
            # stop uvicorn's supervisor and every worker with it. The writer migrates later.
            logger.warning("ledger: the database is unreachable, predictions wait in the spool: %s", error)
            migrated = False
        spool = Spool(settings.spool_dir(), settings.LEDGER_SPOOL_MAX_BYTES, settings.LEDGER_WHEN_FULL == "refuse")
        writer = Writer(
            spool,
            store,
            metrics,
            flush_seconds=settings.LEDGER_FLUSH_SECONDS,
            retention_days=settings.LEDGER_RETENTION_DAYS,
            migrated=migrated,
        )
        writer.start()
        return cls(store, spool, writer)

    def record(self, batch: RecordedBatch) -> None:
        """Spool one answered batch before its answer is sent; ``LedgerFullError`` at the bound if set to refuse."""
        self.spool.append(batch)

    def count_refused(self, rows: int) -> None:
        """Count rows refused (not predicted): counted, never recorded."""
        self.writer.refused += rows

    def add_labels(self, labels: Sequence[Any]) -> list[LabelError | None]:
        """Store the valid labels (each with its arrival time); per label sent, its error or None."""
        valid, errors = check_labels(labels)
        self.add_checked_labels(valid)
        return errors

    def add_checked_labels(self, valid: Sequence[CheckedLabel]) -> None:
        """Store labels ``check_labels`` found valid, each with its arrival time."""
        if valid:
            with database_reached():
                self.store.add_labels(valid)

    def performance(
        self,
        model_version: str | None = None,
        route: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Per model version: predictions, labelled, accuracy, estimates, confusion matrix, per class."""
        prediction = prediction_filter(self.store, model_version, route, since, until)
        with database_reached():
            rows = self.store.query(performance_sql(self.store.REQUEST_ID, prediction), prediction.parameters)
            return summarise(rows)

    def export(self, out: Path, since: datetime | None = None, until: datetime | None = None) -> int:
        return export(self.store, out, since=since, until=until)

    def drain(self, timeout: float) -> bool:
        """Wait until the database holds every batch recorded here (for tests and shutdown)."""
        return self.writer.drain(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer after one last write; what it could not write stays spooled for a replay."""
        if self._closed:
            return
        self._closed = True
        self.writer.stop(timeout)
        self.writer.release_orphans()
        for spool_file in self.spool.close():
            try:
                self.store.forget(spool_file.path.name)
            except Exception:
                logger.warning("ledger: could not forget the progress of %s", spool_file.path.name)
        self.store.close()
