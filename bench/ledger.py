"""The prediction ledger's benchmark: ingest into the database, bytes per row, and record()'s cost.

    python -m bench.ledger [--database postgresql|sqlite] [--quick]
                           [--backlog-rows 1000000] [--single-rows 100000] [--calls 20000]

On a PostgreSQL of its own (Debian's, in a temporary directory, fsync off), or on the embedded
SQLite default (``--database sqlite``, a file in a temporary directory):

- a backlog of ``--backlog-rows`` rows spooled in 1000-row requests by a process that then
  died, replayed by a new ledger: the time until the database holds them all, and rows/s;
  the same for ``--single-rows`` rows in one-row requests;
- the query of live performance per model version (``Ledger.performance``, what the gauges
  read) over all of it;
- bytes on disk per recorded row (the predictions' partitions with their TOAST and indexes,
  ``pg_total_relation_size``; on SQLite the predictions' table and its index, from ``dbstat``,
  over the rows) after each; the answers table (each model version's probabilities for each
  car, at most 1728 per version) apart;
- ``Ledger.record``'s cost per call for one and 1000 rows, in process, with the writer running
  and alone, beside ``make_prediction``'s for the same rows.

The issue's goals (PostgreSQL): at least 100k rows/s, the 1M-row backlog in at most 30 s, at
most 16 bytes per row in 1000-row requests and 96 in one-row requests. A script that prints
figures, not a test; it writes them to bench/results/ledger.md (ledger-sqlite.md for SQLite).
``--quick`` is a trial with a tenth of the rows and calls, written to bench/results/quick/.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

import psycopg
from prometheus_client import CollectorRegistry

from app.ledger import Ledger, LedgerSettings, RecordedBatch
from app.ledger.cars import cars_at
from app.ledger.metrics import LedgerMetrics
from app.ledger.spool import Spool
from bench import results as results_file
from car_evaluation_model import make_prediction
from devtools.ledger_batches import answered
from devtools.postgres import RunningPostgres, pg_bin, running_postgres

BIG = 1000
Argument = TypeVar("Argument")
DRAIN_TIMEOUT_S = 600


def settings(url: str, data_dir: Path) -> LedgerSettings:
    return LedgerSettings(_env_file=None, LEDGER_URL=url, LEDGER_DATA_DIR=data_dir, LEDGER_SPOOL_MAX_BYTES=2**40)


class Database(Protocol):
    title: str

    def new(self, name: str) -> str:
        """The URL of a new, empty database called ``name``."""
        ...

    def sizes(self, url: str) -> tuple[int, int, int]:
        """Bytes of the predictions (with their indexes), of the answers table, and rows recorded."""
        ...


@dataclasses.dataclass
class Postgres:
    server: RunningPostgres
    title: str = "PostgreSQL"

    def new(self, name: str) -> str:
        with psycopg.connect(self.server.url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.server.url.rsplit("/", 1)[0] + f"/{name}"

    def sizes(self, url: str) -> tuple[int, int, int]:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
            partitions = connection.execute(
                "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
                "WHERE inhparent = 'ledger_predictions'::regclass"
            ).fetchone()
            answers = connection.execute("SELECT pg_total_relation_size('ledger_answers')").fetchone()
            rows = connection.execute("SELECT count(*) FROM ledger_prediction_rows").fetchone()
        assert partitions is not None
        assert answers is not None
        assert rows is not None
        return int(partitions[0]), int(answers[0]), int(rows[0])


@dataclasses.dataclass
class Sqlite:
    directory: Path
    title: str = "SQLite"

    def new(self, name: str) -> str:
        return f"sqlite:///{self.directory / f'{name}.sqlite3'}"

    def sizes(self, url: str) -> tuple[int, int, int]:
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            connection.execute("VACUUM")
            pages = dict(connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
            (rows,) = connection.execute("SELECT count(*) FROM ledger_prediction_rows").fetchone()
        return pages["ledger_predictions"] + pages["ledger_predictions_time"], pages["ledger_answers"], rows


@contextmanager
def database(kind: str, work: Path) -> Iterator[Database]:
    if kind == "sqlite":
        yield Sqlite(work)
        return
    bin_dir = pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL not found: apt-get install -y postgresql")
    with running_postgres(bin_dir) as server:
        yield Postgres(server)


def templates(rows: int, count: int, generator: random.Random) -> list[RecordedBatch]:
    return [answered("template", [generator.randrange(1728) for _ in range(rows)]) for _ in range(count)]


def spool_backlog(data_dir: Path, batches: Sequence[RecordedBatch], requests: int, generator: random.Random) -> None:
    """Spool ``requests`` batches as a worker would, then leave the file as a killed worker does."""
    spool = Spool(data_dir / "spool", 2**40, refuse_when_full=False)
    for index in range(requests):
        request_id = f"{generator.getrandbits(128):032x}"
        spool.append(dataclasses.replace(batches[index % len(batches)], request_id=request_id, time=time.time()))
    spool.close()  # nothing written: the file stays, an orphan


@dataclasses.dataclass
class Ingest:
    label: str
    rows: int
    seconds: float
    table_bytes: int
    answers_bytes: int
    performance_seconds: float


def ingest(database: Database, work: Path, name: str, rows_per_request: int, rows: int) -> Ingest:
    generator = random.Random(rows_per_request)
    url = database.new(name)
    data_dir = work / name
    batches = templates(rows_per_request, 50 if rows_per_request == BIG else 1728, generator)
    spool_backlog(data_dir, batches, rows // rows_per_request, generator)
    start = time.perf_counter()
    ledger = Ledger.open(settings(url, data_dir), LedgerMetrics(CollectorRegistry()))
    assert ledger is not None
    assert ledger.drain(DRAIN_TIMEOUT_S), "the backlog did not drain"
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    ledger.performance()
    performance_seconds = time.perf_counter() - start
    ledger.close()
    table_bytes, answers_bytes, stored = database.sizes(url)
    assert stored == rows, (stored, rows)
    return Ingest(f"{rows_per_request}-row requests", rows, seconds, table_bytes, answers_bytes, performance_seconds)


def per_call(function: Callable[[Argument], object], argument: Argument, calls: int) -> float:
    """Microseconds per call, the best of three rounds."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


Cost = tuple[int, float, float, float]


def record_cost(database: Database, work: Path, calls: int) -> list[Cost]:
    """Per row count: record with its writer running, alone, make_prediction; in us."""
    url = database.new("record_cost")
    ledger = Ledger.open(settings(url, work / "record_cost"), LedgerMetrics(CollectorRegistry()))
    assert ledger is not None
    cases = []
    for rows in (1, BIG):
        positions = [random.randrange(1728) for _ in range(rows)]
        batch = answered("0123456789abcdef0123456789abcdef", positions)
        columns = cars_at(positions)
        inputs = [dict(zip(columns, car, strict=True)) for car in zip(*columns.values(), strict=True)]
        cases.append((rows, batch, inputs, max(1, calls // rows)))
    with_writer = [per_call(ledger.record, batch, repeat) for _, batch, _, repeat in cases]
    ledger.writer.stop(timeout=DRAIN_TIMEOUT_S)
    alone = [per_call(ledger.record, batch, repeat) for _, batch, _, repeat in cases]
    predict = [
        per_call(lambda data: make_prediction(input_data=data), inputs, repeat) for _, _, inputs, repeat in cases
    ]
    ledger.close()
    return [
        (rows, writing, quiet, predicting)
        for (rows, *_), writing, quiet, predicting in zip(cases, with_writer, alone, predict, strict=True)
    ]


def report(title: str, ingests: list[Ingest], costs: list[Cost]) -> str:
    lines = [
        f"Ingest into {title}: a dead worker's spooled backlog, replayed by a new ledger"
        " until the database holds all of it; then the query of live performance over all of it"
        " (what the gauges read).",
        "",
        "| backlog | rows | drained in | rows/s | bytes/row on disk | answers table | performance query |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for run in ingests:
        lines.append(
            f"| {run.label} | {run.rows:,} | {run.seconds:.1f} s | {run.rows / run.seconds:,.0f} | "
            f"{run.table_bytes / run.rows:.1f} | {run.answers_bytes / 1024:,.0f} KiB "
            f"| {run.performance_seconds:.2f} s |"
        )
    lines += [
        "",
        "`Ledger.record` in process: with its writer thread running (what a worker pays, the writer's share"
        " included), and alone (the writer stopped), beside `make_prediction` for the same cars (a list"
        " of dicts, as JSON gives them).",
        "",
        "| rows | record, writer running | record alone | make_prediction | record, writer running / make_prediction |",
        "|--:|--:|--:|--:|--:|",
    ]
    for rows, with_writer, alone, predict in costs:
        lines.append(
            f"| {rows:,} | {with_writer:.1f} us | {alone:.1f} us | {predict:.1f} us | {with_writer / predict:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows and calls, to bench/results/quick/")
    parser.add_argument("--backlog-rows", type=int, default=1_000_000)
    parser.add_argument("--single-rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20_000)
    arguments = parser.parse_args()
    share = 10 if arguments.quick else 1
    with tempfile.TemporaryDirectory() as work, database(arguments.database, Path(work)) as chosen:
        ingests = [
            ingest(chosen, Path(work), "backlog_big", BIG, arguments.backlog_rows // share),
            ingest(chosen, Path(work), "backlog_single", 1, arguments.single_rows // share),
        ]
        costs = record_cost(chosen, Path(work), arguments.calls // share)
    tables = report(chosen.title, ingests, costs)
    print(tables)
    name = "ledger" if arguments.database == "postgresql" else "ledger-sqlite"
    directory = results_file.QUICK_RESULTS_DIR if arguments.quick else results_file.RESULTS_DIR
    print(results_file.write(name, "bench.ledger", tables, directory=directory))


if __name__ == "__main__":
    main()
