"""Nothing answered is lost: a killed worker's spool is replayed exactly once; a database down fills the spool.

The spool grows up to its bound; past it, predictions are counted as not recorded, or refused.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.exc import OperationalError

from app.ledger import Ledger, LedgerFullError
from app.ledger.batch import decode, trained_answers
from app.ledger.spool import SMALL_BATCH_ROWS, Spool
from devtools import REPO_ROOT
from devtools.ledger_batches import answered
from devtools.postgres import RunningPostgres
from tests.ledger.conftest import OpenLedger, new_database, records_per_row

KILL_AFTER_LINES = 300


def metric(ledger: Ledger, name: str) -> float:
    registry = ledger.writer.metrics.registry
    assert registry is not None
    value = registry.get_sample_value(name)
    assert value is not None, name
    return float(value)


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def exported(ledger: Ledger, path: Path) -> pd.DataFrame:
    ledger.export(path)
    return pd.read_parquet(path)


def test_a_killed_worker_loses_nothing_it_answered(
    ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    command = [sys.executable, "-m", "tests.ledger.recorder", str(data_dir), *([ledger_url] if ledger_url else [])]
    answered_rows: dict[str, int] = {}
    for _ in range(2):  # two workers killed in turn, the second while the first's spool waits
        worker = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        assert worker.stdout is not None
        for line in worker.stdout:
            request_id, rows = line.split()
            answered_rows[request_id] = int(rows)
            if len(answered_rows) % KILL_AFTER_LINES == 0:
                break
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert len(answered_rows) == 2 * KILL_AFTER_LINES
    assert len(list((data_dir / "spool").glob("*.spool"))) >= 1

    ledger = open_ledger(ledger_url, data_dir)  # replays the dead workers' spools
    assert ledger.drain(60)
    frame = exported(ledger, tmp_path / "all.parquet")

    assert set(records_per_row(ledger.store.engine).values()) == {1}, "a prediction is in the database twice"
    recorded = collections.Counter(frame["request_id"])
    for request_id, row_count in answered_rows.items():
        assert recorded[request_id] == row_count, request_id
    assert list((data_dir / "spool").glob("*.spool")) == [ledger.spool.current.path]


def test_the_spool_holds_predictions_while_the_database_is_down(
    own_postgres: RunningPostgres, open_ledger: OpenLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = open_ledger(new_database(own_postgres))
    ledger.record(answered("before", [1, 2]))
    assert ledger.drain(30)
    own_postgres.stop()

    for index in range(50):
        ledger.record(answered(f"down-{index}", list(range(index, index + 10))))
    assert ledger.spool.backlog > 0
    # The writer tries, fails, and publishes what waits at each attempt.
    assert eventually(lambda: metric(ledger, "car_evaluation_ledger_spool_bytes") == ledger.spool.backlog)
    assert eventually(lambda: metric(ledger, "car_evaluation_ledger_write_errors_total") >= 3)  # three tries
    assert metric(ledger, "car_evaluation_ledger_write_lag_seconds") > 0

    own_postgres.start()
    assert ledger.drain(30)
    # The outage in the log: its start and its end, not a line per try.
    said = [record.getMessage() for record in caplog.records if record.name == "app.ledger.writer"]
    assert len([line for line in said if "writing the spool into the database failed" in line]) == 1, said
    assert len([line for line in said if "the database takes the spool again" in line]) == 1, said
    frame = exported(ledger, tmp_path / "all.parquet")
    assert len(frame) == 2 + 50 * 10
    assert set(records_per_row(ledger.store.engine).values()) == {1}  # the export would show one of two
    assert metric(ledger, "car_evaluation_ledger_records_written_total") == 2 + 50 * 10
    ledger.writer.run_once()
    assert metric(ledger, "car_evaluation_ledger_spool_bytes") == 0
    assert metric(ledger, "car_evaluation_ledger_write_lag_seconds") == 0


@pytest.mark.parametrize("when_full", ["count", "refuse"])
def test_at_the_bound(own_postgres: RunningPostgres, open_ledger: OpenLedger, tmp_path: Path, when_full: str) -> None:
    max_bytes = 64 * 1024
    ledger = open_ledger(new_database(own_postgres), LEDGER_SPOOL_MAX_BYTES=max_bytes, LEDGER_WHEN_FULL=when_full)
    own_postgres.stop()
    recorded: list[str] = []
    refusals = 0
    rows = 100
    for index in range(600):  # far more than the bound holds
        batch = answered(f"r-{index}", [(index + row) % 1728 for row in range(rows)])
        not_recorded = ledger.spool.not_recorded
        try:
            ledger.record(batch)
        except LedgerFullError:
            refusals += 1
            continue
        if ledger.spool.not_recorded == not_recorded:
            recorded.append(batch.request_id)
    assert 0 < ledger.spool.backlog <= max_bytes
    if when_full == "refuse":
        assert refusals > 0
        assert ledger.spool.not_recorded == 0
    else:
        assert refusals == 0
        assert ledger.spool.not_recorded > 0

    own_postgres.start()
    assert ledger.drain(30)
    frame = exported(ledger, tmp_path / "all.parquet")
    assert sorted(set(frame["request_id"])) == sorted(recorded)
    assert len(frame) == rows * len(recorded)
    ledger.writer.run_once()
    assert metric(ledger, "car_evaluation_ledger_records_not_recorded_total") == ledger.spool.not_recorded
    # Room again: recording works.
    ledger.record(answered("after", [1]))
    assert ledger.drain(30)


@pytest.mark.parametrize("rows", [2, SMALL_BATCH_ROWS + 1])
def test_a_car_first_seen_in_a_batch_the_full_spool_turned_away_has_its_answers_in_the_next(
    tmp_path: Path, rows: int
) -> None:
    spool = Spool(tmp_path, max_bytes=2**20, refuse_when_full=True)
    spool.append(answered("first", [5]))
    spool.max_bytes = spool.backlog  # full: nothing more fits
    with pytest.raises(LedgerFullError):
        spool.append(answered("turned-away", [7] * rows))
    spool.max_bytes = 2**20

    spool.append(answered("after", [7]))

    frames = [frame for _, frame in decode(spool.current.path.read_bytes())]
    assert [frame.request_id for frame in frames] == ["first", "after"]
    assert frames[1].answers == {7: tuple(trained_answers().probabilities[7].tolist())}
    spool.close()


@pytest.mark.parametrize("rows", [1, SMALL_BATCH_ROWS, SMALL_BATCH_ROWS + 1, 50])
def test_small_and_large_batches_are_spooled_alike(tmp_path: Path, rows: int) -> None:
    """Either side of ``SMALL_BATCH_ROWS`` (in Python or in numpy): each row's code, each car's answers once."""
    spool = Spool(tmp_path, max_bytes=2**20, refuse_when_full=True)
    table = trained_answers()
    first = [row // 2 for row in range(rows)]  # each car twice (once in a one-row batch)
    second = [row // 2 + rows // 4 for row in range(rows)]  # some seen in the first batch, some not
    spool.append(answered("first", first))
    spool.append(answered("second", second))

    frames = [frame for _, frame in decode(spool.current.path.read_bytes())]
    assert [list(frame.codes) for frame in frames] == [table.codes[first].tolist(), table.codes[second].tolist()]
    first_new, second_new = sorted(set(first)), sorted(set(second) - set(first))
    assert [sorted(frame.answers) for frame in frames] == [first_new, second_new]
    for frame in frames:
        for position, probabilities in frame.answers.items():
            assert probabilities == tuple(table.probabilities[position].tolist())
    spool.close()


@pytest.mark.parametrize("rows", [1, SMALL_BATCH_ROWS + 1])
@pytest.mark.parametrize("position", [1728, 2**16, -1])
def test_a_position_past_the_cars_is_refused_and_nothing_is_spooled(tmp_path: Path, rows: int, position: int) -> None:
    spool = Spool(tmp_path, max_bytes=2**20, refuse_when_full=True)
    with pytest.raises((IndexError, OverflowError)):
        spool.append(answered("wrong", [*range(rows - 1), position]))
    assert spool.current.path.read_bytes() == b""
    spool.close()


def test_a_ledger_opened_while_the_database_is_down_records_and_migrates_once_it_is_back(
    own_postgres: RunningPostgres, open_ledger: OpenLedger, tmp_path: Path
) -> None:
    url = new_database(own_postgres)  # no schema yet
    own_postgres.stop()
    ledger = open_ledger(url)  # a worker restarted during the outage: it must start, and record
    for index in range(20):
        ledger.record(answered(f"down-{index}", [index, index + 1]))
    assert ledger.spool.backlog > 0

    own_postgres.start()
    assert ledger.drain(30)
    frame = exported(ledger, tmp_path / "all.parquet")
    assert len(frame) == 20 * 2
    assert set(records_per_row(ledger.store.engine).values()) == {1}  # the export would show one of two


def test_a_write_committed_but_not_acknowledged_is_not_written_again(
    own_postgres: RunningPostgres, open_ledger: OpenLedger, tmp_path: Path
) -> None:
    ledger = open_ledger(new_database(own_postgres))
    writer = ledger.writer
    writer.stop(timeout=10)  # passes run here, one at a time
    ledger.record(answered("first", [1, 2]))
    writer.run_once()
    ledger.record(answered("second", [3, 4, 5]))
    # The database commits the next write, but its acknowledgement is lost with the connection:
    # the writer never learns the file's progress moved.
    spool_file = ledger.spool.current
    assert spool_file.written is not None
    [(end, frame)] = decode(spool_file.path.read_bytes()[spool_file.written :])
    ledger.store.write(spool_file.path.name, [frame], spool_file.written + end)
    own_postgres.stop()
    with pytest.raises(OperationalError):
        writer.run_once()

    own_postgres.start()
    writer.run_once()
    assert ledger.spool.backlog == 0
    rows = exported(ledger, tmp_path / "all.parquet")
    assert collections.Counter(rows["request_id"]) == {"first": 2, "second": 3}
    assert sorted(records_per_row(ledger.store.engine).values()) == [1] * 5
