"""The ledger's database: PostgreSQL (COPY, day partitions) or SQLite, one interface.

``write`` moves spooled frames and the spool's new progress in one transaction, so a batch
is in the database exactly once whatever crashes, and whoever replays the spool after it.
Both keep a batch as one row (PostgreSQL its codes as an array, SQLite as JSON text); every
query reads ``ledger_prediction_rows``, which shows one row per record on both databases
(``performance.predictions`` counts a row recorded twice once).
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy
import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text

from app.ledger.batch import NO_PREDICTION, Frame

# A request id of 32 lowercase hex digits (the service's own) is stored as a uuid: 16 bytes.
REQUEST_UUID = re.compile(r"[0-9a-f]{32}")
NULL = "\\N"
COPY_PREDICTIONS = (
    "COPY ledger_predictions (time, request_uuid, request_text, v2_id, version_id, route_id, codes, rows) FROM STDIN"
)
COPY_LINES = 4096
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def utc_time(moment: datetime) -> datetime:
    """``moment`` in UTC: a time without a zone is UTC on either database, whatever the server's zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the first or the last day of the calendar, in another zone
        raise ValueError("the time is out of range once in UTC") from None


@dataclass(frozen=True)
class RequestIdColumns:
    """A batch's request id in ``ledger_predictions`` on one database."""

    stored: str  # the columns that hold it
    shown: str  # it as ``ledger_prediction_rows`` shows it, from those columns


class Store:
    """What both databases share; ``PostgresStore`` and ``SqliteStore`` add their own writes."""

    REQUEST_ID: RequestIdColumns

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ids: dict[tuple[str, str], int] = {}

    def time_value(self, moment: datetime) -> Any:
        return utc_time(moment)

    def close(self) -> None:
        self.engine.dispose()

    def written_bytes(self, spool: str) -> int:
        with self.engine.connect() as connection:
            found = connection.execute(
                text("SELECT written_bytes FROM ledger_spool_progress WHERE spool = :spool"), {"spool": spool}
            ).scalar()
        return int(found or 0)

    def forget(self, spool: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(text("DELETE FROM ledger_spool_progress WHERE spool = :spool"), {"spool": spool})

    def write(self, spool: str, frames: Iterable[Frame], written_bytes: int) -> None:
        """The frames' predictions and answers, and the spool's progress, in one transaction."""
        try:
            with self.engine.begin() as connection:
                self._write(connection, spool, frames, written_bytes)
        except Exception:
            self._ids.clear()  # ids added in the transaction rolled back are not there
            raise

    def _write(self, connection: Connection, spool: str, frames: Iterable[Frame], written_bytes: int) -> None:
        self._insert(connection, frames)
        connection.execute(
            text(
                "INSERT INTO ledger_spool_progress (spool, written_bytes) VALUES (:spool, :bytes) "
                "ON CONFLICT (spool) DO UPDATE SET written_bytes = excluded.written_bytes"
            ),
            {"spool": spool, "bytes": written_bytes},
        )

    def prepare(self, days: Iterable[date]) -> None:
        """Make room for predictions of ``days`` (PostgreSQL's partitions)."""

    def drop_before(self, day: date) -> None:
        """Forget the predictions made before ``day``."""
        raise NotImplementedError

    def id_of(self, connection: Connection, table: str, name: str) -> int:
        """The id of a model version or a route name, added on first sight."""
        key = (table, name)
        if key not in self._ids:
            connection.execute(
                text(f"INSERT INTO {table} (name) VALUES (:name) ON CONFLICT (name) DO NOTHING"), {"name": name}
            )
            found = connection.execute(text(f"SELECT id FROM {table} WHERE name = :name"), {"name": name}).scalar_one()
            self._ids[key] = int(found)
        return self._ids[key]

    def _insert(self, connection: Connection, frames: Iterable[Frame]) -> None:
        """The frames' predictions, and the answers (probabilities per car) they carry."""
        raise NotImplementedError

    def add_labels(self, labels: Sequence[tuple[str, int, int]]) -> None:
        """Store (request id, row, class index) labels, each with the time it arrived."""
        now = self.time_value(datetime.now(UTC))
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO ledger_labels (request_id, row, label, time) VALUES (:request_id, :row, :label, :time)"
                ),
                [{"request_id": r, "row": row, "label": label, "time": now} for r, row, label in labels],
            )

    def query(self, sql: str, parameters: dict[str, Any]) -> Iterator[Sequence[Any]]:
        with self.engine.connect() as connection:
            yield from connection.execute(text(sql).execution_options(yield_per=50_000), parameters)


class PostgresStore(Store):
    # Repeated ids are grouped by the stored uuid: only the few repeated ones are turned into text.
    REQUEST_ID = RequestIdColumns(
        stored="request_uuid, request_text", shown="coalesce(replace(request_uuid::text, '-', ''), request_text)"
    )

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._days: set[date] = set()

    def prepare(self, days: Iterable[date]) -> None:
        missing = sorted(set(days) - self._days)
        if not missing:
            return
        with self.engine.begin() as connection:
            # Two writers creating the same partition at once: one waits for the other.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('ledger_predictions partitions'))"))
            for day in missing:
                connection.execute(
                    text(
                        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF ledger_predictions "
                        f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
                    )
                )
        self._days.update(missing)

    def drop_before(self, day: date) -> None:
        with self.engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('ledger_predictions partitions'))"))
            partitions = connection.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'ledger_predictions'::regclass"
                )
            ).scalars()
            for name in list(partitions):
                if name < partition_name(day):
                    connection.execute(text(f"DROP TABLE {name}"))
                    self._days.discard(datetime.strptime(name.removeprefix("ledger_predictions_"), "%Y%m%d").date())

    def add_labels(self, labels: Sequence[tuple[str, int, int]]) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy("COPY ledger_labels (request_id, row, label, time) FROM STDIN") as copy:
                for request_id, row, label in labels:
                    copy.write_row((request_id, row, label, now))

    def _insert(self, connection: Connection, frames: Iterable[Frame]) -> None:
        # One pass over the frames, each dropped once it is a line of COPY's text format, written
        # out directly (psycopg's per-value adaptation costs several times more per batch, and
        # one-row batches come by the thousand: bench.ledger), and sent every COPY_LINES lines,
        # so that the server parses them while the next ones are made.
        answers: list[tuple[int, int, Sequence[float]]] = []  # (version id, position, probabilities)
        ids: dict[tuple[str, str], tuple[int, int]] = {}
        times = _CopyTimes()
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        lines: list[str] = []
        with ExitStack() as copying:
            copy = None
            for frame in frames:
                key = (frame.model_version, frame.route)
                if (found := ids.get(key)) is None:
                    # A version or route not seen yet in this write: its id is read (or added)
                    # between two COPYs, as the connection runs nothing else during one.
                    if copy is not None:
                        copy.write("".join(lines))
                        lines.clear()
                        copying.close()
                        copy = None
                    found = ids[key] = (
                        self.id_of(connection, "ledger_versions", frame.model_version),
                        self.id_of(connection, "ledger_routes", frame.route),
                    )
                if copy is None:
                    copy = copying.enter_context(cursor.copy(COPY_PREDICTIONS))
                version_id, route_id = found
                if frame.answers:
                    answers.extend((version_id, position, p) for position, p in frame.answers.items())
                request = frame.request_id
                uuid, request_text = (request, NULL) if REQUEST_UUID.fullmatch(request) else (NULL, _text(request))
                v2_id = NULL if frame.v2_id is None else _text(frame.v2_id)
                codes = _json(_values(frame.codes))[1:-1]  # the JSON array's numbers, as PostgreSQL's array text
                rows = NULL if frame.rows is None else "{" + _json(_values(frame.rows))[1:-1] + "}"
                lines.append(
                    f"{times.text(frame.time)}\t{uuid}\t{request_text}\t{v2_id}\t{version_id}\t{route_id}"
                    f"\t{{{codes}}}\t{rows}\n"
                )
                if len(lines) == COPY_LINES:
                    copy.write("".join(lines))
                    lines.clear()
            if copy is not None:
                copy.write("".join(lines))
        if answers:
            # One statement for them all: a new spool file sends each car's answers again, up to
            # every car of every class (the rows already there are left as they are).
            connection.execute(
                text(
                    "INSERT INTO ledger_answers (version_id, position, class, probability) "
                    "SELECT * FROM unnest(CAST(:versions AS smallint[]), CAST(:positions AS smallint[]), "
                    "CAST(:classes AS smallint[]), CAST(:probabilities AS double precision[])) "
                    "ON CONFLICT DO NOTHING"
                ),
                {
                    "versions": [version for version, _, p in answers for _ in p],
                    "positions": [position for _, position, p in answers for _ in p],
                    "classes": [index for _, _, p in answers for index in range(len(p))],
                    "probabilities": [probability for _, _, p in answers for probability in p],
                },
            )


class SqliteStore(Store):
    REQUEST_ID = RequestIdColumns(stored="request_id", shown="request_id")

    def time_value(self, moment: datetime) -> Any:
        return utc_time(moment).timestamp()

    def drop_before(self, day: date) -> None:
        cutoff = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        with self.engine.begin() as connection:
            connection.execute(text("DELETE FROM ledger_predictions WHERE time < :cutoff"), {"cutoff": cutoff})

    def _insert(self, connection: Connection, frames: Iterable[Frame]) -> None:
        # Each frame dropped once it is a row to insert (a tuple of numbers and strings), as
        # PostgreSQL's COPY lines are: a chunk of frames alive at once would make the collector
        # walk them again and again. The rows are listed, not generated during ``executemany``:
        # ``id_of`` may run statements on the same connection.
        answers: list[dict[str, Any]] = []
        batches = []
        for frame in frames:
            version_id = self.id_of(connection, "ledger_versions", frame.model_version)
            route_id = self.id_of(connection, "ledger_routes", frame.route)
            answers.extend(
                {"version": version_id, "position": position, "class": index, "p": p}
                for position, probabilities in frame.answers.items()
                for index, p in enumerate(probabilities)
            )
            # A batch is one row: its first row and its codes, one per row from there, as a JSON
            # array orjson makes from the frame's buffers, with no Python object per prediction.
            batches.append((frame.time, frame.request_id, frame.v2_id, version_id, route_id, *_codes_by_row(frame)))
        if answers:
            connection.execute(
                text(
                    "INSERT INTO ledger_answers (version_id, position, class, probability) "
                    "VALUES (:version, :position, :class, :p) ON CONFLICT DO NOTHING"
                ),
                answers,
            )
        raw = connection.connection.driver_connection
        raw.executemany(  # type: ignore[union-attr]
            "INSERT INTO ledger_predictions VALUES (?, ?, ?, ?, ?, ?, ?)", batches
        )


def _codes_by_row(frame: Frame) -> tuple[int, str]:
    """The frame's first row, and from there each row's code as JSON: ``NO_PREDICTION`` for a row between
    two answered ones that has none (it was refused)."""
    codes = _values(frame.codes)
    if frame.rows is None or not len(frame.rows):
        return 0, _json(codes)
    if isinstance(frame.rows, range):  # rows that follow each other
        return frame.rows.start, _json(codes)
    rows = _values(frame.rows).astype(numpy.int64)
    first = int(rows.min())
    by_row = numpy.full(int(rows.max()) - first + 1, NO_PREDICTION, dtype=numpy.int64)
    by_row[rows - first] = codes
    return first, _json(by_row)


def _values(numbers: array[int] | range) -> numpy.ndarray[Any, Any]:
    """A frame's codes or rows as a numpy array: an ``array``'s buffer read in place."""
    if isinstance(numbers, range):
        return numpy.arange(numbers.start, numbers.stop, numbers.step)
    return numpy.frombuffer(numbers, dtype=numbers.typecode)


def _json(numbers: numpy.ndarray[Any, Any]) -> str:
    """A JSON array, written by orjson from the numbers' buffer: no Python object per number."""
    return orjson.dumps(numbers, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def partition_name(day: date) -> str:
    return f"ledger_predictions_{day:%Y%m%d}"


class _CopyTimes:
    """Epoch seconds as COPY's text for a timestamptz, each second's part formatted once.

    Microseconds rounded as ``datetime.fromtimestamp`` rounds them (half to even).
    """

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}

    def text(self, moment: float) -> str:
        second = math.floor(moment)
        micros = round((moment - second) * 1_000_000)
        if micros == 1_000_000:
            second, micros = second + 1, 0
        if (prefix := self._seconds.get(second)) is None:
            prefix = self._seconds[second] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"{prefix}.{micros:06d}+00"


def _text(value: str) -> str:
    """A text value in COPY's text format."""
    return value.translate(COPY_ESCAPES)


def open_store(url: str) -> Store:
    """The store at a SQLAlchemy URL (``postgresql+psycopg://...`` or ``sqlite:///...``)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return SqliteStore(engine)
    return PostgresStore(create_engine(url, pool_pre_ping=True))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: the workers' writers and the readers do not block each other.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
