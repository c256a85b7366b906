"""Where the ledger writes, its schema, partitions and retention, and the spool's frames."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import numpy
import pandas as pd
import psycopg
import pytest
from sqlalchemy import inspect

from app.ledger import Ledger
from app.ledger.batch import ANSWER, HEADER, ModelAnswers, RecordedBatch, decode, encode, trained_answers
from app.ledger.cars import CLASSES, cars_at, feature_names
from app.ledger.metrics import LedgerMetrics
from app.ledger.schema import migrate
from app.ledger.store import open_store, partition_name
from car_evaluation_model import __version__, domain_of, make_prediction
from car_evaluation_model.config.core import config
from devtools import REPO_ROOT
from devtools.ledger_batches import answered
from devtools.postgres import RunningPostgres
from tests.ledger.conftest import OpenLedger, ledger_settings, new_database, records_per_row, run_ledger_command

DAY = 86_400


def test_where_the_ledger_writes(tmp_path: Path) -> None:
    default = ledger_settings(None, tmp_path)
    assert default.database_url() == f"sqlite:///{(tmp_path / 'ledger.sqlite3').resolve()}"
    assert default.spool_dir() == tmp_path / "spool"
    assert ledger_settings("off", tmp_path).database_url() is None
    assert ledger_settings("postgresql://u@h/d", tmp_path).database_url() == "postgresql+psycopg://u@h/d"
    heroku = ledger_settings(None, tmp_path).model_copy(update={"DATABASE_URL": "postgres://u:p@h:5432/d"})
    assert heroku.database_url() == "postgresql+psycopg://u:p@h:5432/d"
    both = heroku.model_copy(update={"LEDGER_URL": "off"})
    assert both.database_url() is None


def test_off_means_no_ledger(tmp_path: Path) -> None:
    assert Ledger.open(ledger_settings("off", tmp_path), LedgerMetrics()) is None
    assert not tmp_path.joinpath("spool").exists()


def test_frames_round_trip_and_a_torn_frame_is_not_read() -> None:
    batch = RecordedBatch("r", "v2", "/route", "1.0", 1234.5, [0, 3], [17, 1727], trained_answers())
    codes = numpy.array([17 * 4 + 1, 1727 * 4 + 2], dtype=numpy.uint16)
    first = encode(batch, codes, batch.rows, [(17, [0.1, 0.6, 0.2, 0.1])])
    second = encode(batch, codes, [0, 1], [])
    assert len(first) == HEADER.size + len("rv2/route1.0") + 2 * 2 + 4 * 2 + ANSWER.size

    frames = list(decode(first + second + second[:-1]))

    assert [end for end, _ in frames] == [len(first), len(first) + len(second)]
    (_, one), (_, two) = frames
    assert (one.time, one.request_id, one.v2_id, one.route, one.model_version) == (1234.5, "r", "v2", "/route", "1.0")
    assert list(one.codes) == list(codes)
    assert list(one.rows or []) == [0, 3]
    assert one.answers == {17: (0.1, 0.6, 0.2, 0.1)}
    assert two.rows is None  # rows 0 .. n-1
    assert len(two.codes) == 2
    assert two.answers == {}


def test_a_models_answers_are_its_codes_and_probabilities_by_position_read_only() -> None:
    answers = ModelAnswers.of(CLASSES, ["good", "unacc"], numpy.array([[0.1, 0.2, 0.6, 0.1], [0.7, 0.1, 0.1, 0.1]]))
    assert answers.codes.tolist() == [0 * 4 + 2, 1 * 4 + 0]
    assert answers.probabilities[1].tolist() == [0.7, 0.1, 0.1, 0.1]
    with pytest.raises(ValueError, match="read-only"):
        answers.codes[0] = 3
    with pytest.raises(ValueError, match="must be the ledger's"):
        ModelAnswers.of(list(reversed(CLASSES)), ["good"], numpy.ones((1, 4)))
    with pytest.raises(ValueError, match="1 labels and 2 rows"):
        ModelAnswers.of(CLASSES, ["good"], numpy.ones((2, 4)))


def test_rows_that_follow_each_other_are_stored_as_their_first() -> None:
    batch = RecordedBatch("r", None, "/route", "1.0", 1234.5, range(25_000, 25_003), [17] * 3, trained_answers())
    codes = numpy.array([17 * 4 + 1] * 3, dtype=numpy.uint16)
    following = encode(batch, codes, batch.rows, [])
    listed = encode(batch, codes, [25_000, 25_001, 25_002], [])
    scattered = encode(batch, codes, [25_000, 25_002, 25_003], [])
    assert following == listed
    assert len(following) == HEADER.size + len("r/route1.0") + 2 * 3 + 4
    assert len(scattered) == HEADER.size + len("r/route1.0") + 2 * 3 + 4 * 3

    [(_, one), (_, two)] = decode(following + scattered)

    assert list(one.rows or []) == [25_000, 25_001, 25_002]
    assert list(two.rows or []) == [25_000, 25_002, 25_003]
    assert list(one.codes) == list(two.codes) == list(codes)


def test_migrating_twice_changes_nothing(ledger_url: str | None, tmp_path: Path) -> None:
    url = ledger_settings(ledger_url, tmp_path).database_url()
    assert url is not None
    store = open_store(url)
    migrate(store.engine)
    migrate(store.engine)
    tables = set(inspect(store.engine).get_table_names())
    assert {"ledger_predictions", "ledger_labels", "ledger_answers", "ledger_alembic_version"} <= tables
    store.close()


def test_workers_migrating_at_once_all_start(ledger_url: str | None, tmp_path: Path) -> None:
    url = ledger_settings(ledger_url, tmp_path).database_url()
    assert url is not None
    tmp_path.mkdir(exist_ok=True)
    stores = [open_store(url) for _ in range(4)]
    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(lambda store: migrate(store.engine), stores))  # raises if any failed
    for store in stores:
        store.close()


def test_retention_forgets_old_days(ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path) -> None:
    now = time.time()
    ledger = open_ledger(ledger_url, LEDGER_RETENTION_DAYS=30)
    ledger.record(answered("old", [1, 2], at=now - 40 * DAY))
    ledger.record(answered("recent", [3], at=now - 20 * DAY))
    assert ledger.drain(30)
    (version,) = ledger.performance()
    assert version["predictions"] == 3
    ledger.close()

    reopened = open_ledger(ledger_url, LEDGER_RETENTION_DAYS=30)  # drops at start, then every few seconds
    assert reopened.drain(30)
    (version,) = reopened.performance()
    assert version["predictions"] == 1


def test_postgresql_partitions_by_day(postgres: RunningPostgres, open_ledger: OpenLedger) -> None:
    url = new_database(postgres)
    now = time.time()
    ledger = open_ledger(url)
    ledger.record(answered("two-days-ago", [1], at=now - 2 * DAY))
    assert ledger.drain(30)
    with psycopg.connect(url) as connection:
        partitions = {
            name
            for (name,) in connection.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'ledger_predictions'::regclass"
            )
        }
        rows = connection.execute(f"SELECT count(*) FROM {partition_name(time_day(now - 2 * DAY))}").fetchone()
    today, tomorrow = time_day(now), time_day(now + DAY)
    assert {partition_name(today), partition_name(tomorrow), partition_name(time_day(now - 2 * DAY))} <= partitions
    assert rows == (1,)


def time_day(moment: float) -> date:
    return datetime.fromtimestamp(moment, UTC).date()


@pytest.mark.parametrize("request_id", ["0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789ABCDEF", "id-1"])
def test_request_ids_come_back_as_sent(postgres: RunningPostgres, open_ledger: OpenLedger, request_id: str) -> None:
    ledger = open_ledger(new_database(postgres))
    ledger.record(answered(request_id, [1]))
    assert ledger.drain(30)
    assert ledger.add_labels([{"request_id": request_id, "row": 0, "label": "vgood"}]) == [None]
    (version,) = ledger.performance()
    assert version["labelled"] == 1


def test_the_ledger_records_what_the_model_package_answers(
    ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path
) -> None:
    positions = [1700, 3, 1700, 42]
    ledger = open_ledger(ledger_url)
    ledger.record(answered("recorded", positions))
    assert ledger.drain(30)
    ledger.export(tmp_path / "out.parquet")
    recorded = pd.read_parquet(tmp_path / "out.parquet").sort_values("row").reset_index(drop=True)

    cars = pd.DataFrame(cars_at(positions))
    result = make_prediction(input_data=cars)
    by_make_prediction = cars.assign(
        prediction=result["predictions"],
        **{f"probability_{label}": [row[label] for row in result["probabilities"] or []] for label in CLASSES},
    )
    pd.testing.assert_frame_equal(recorded[list(by_make_prediction.columns)], by_make_prediction)


def test_a_row_recorded_twice_counts_once_as_its_latest_record(
    ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path
) -> None:
    now = time.time()
    ledger = open_ledger(ledger_url)
    ledger.record(answered("retried", [10, 11, 12], version="first-attempt", at=now - 60))  # its worker died
    ledger.record(answered("retried", [10, 11, 12], version="retry", at=now))  # the other replica answered
    ledger.record(answered("reused", [20, 21], at=now - 60))  # a client's id sent again, with one car
    ledger.record(answered("reused", [22], at=now))
    ledger.record(answered("once", [30], at=now))
    service_made = uuid.uuid4().hex  # stored as a uuid on PostgreSQL; its upper case as text
    ledger.record(answered(service_made, [40], version="first-attempt", at=now - 60))
    ledger.record(answered(service_made, [41], version="retry", at=now))
    ledger.record(answered(service_made.upper(), [42], at=now - 60))
    assert ledger.drain(30)
    assert ledger.add_labels([{"request_id": "retried", "row": 0, "label": "acc"}]) == [None]

    assert sum(records_per_row(ledger.store.engine).values()) == 13  # every record is kept
    assert ledger.export(tmp_path / "all.parquet") == 8
    assert shown(tmp_path / "all.parquet") == {
        (service_made, 0): ("retry", 41),
        (service_made.upper(), 0): (__version__, 42),
        ("retried", 0): ("retry", 10),
        ("retried", 1): ("retry", 11),
        ("retried", 2): ("retry", 12),
        ("reused", 0): (__version__, 22),
        ("reused", 1): (__version__, 21),  # recorded once
        ("once", 0): (__version__, 30),
    }
    by_version = {version["model_version"]: version for version in ledger.performance()}
    assert {name: version["predictions"] for name, version in by_version.items()} == {"retry": 4, __version__: 4}
    assert by_version["retry"]["labelled"] == 1
    assert [version["predictions"] for version in ledger.performance(model_version="first-attempt")] == []

    # In a time range, the latest record in it: the first attempt is all a range before the retry holds.
    before = datetime.fromtimestamp(now - 1, UTC)
    assert ledger.export(tmp_path / "before.parquet", until=before) == 7
    assert shown(tmp_path / "before.parquet") == {
        **{("retried", row): ("first-attempt", car) for row, car in enumerate([10, 11, 12])},
        (service_made, 0): ("first-attempt", 40),
        (service_made.upper(), 0): (__version__, 42),
        ("reused", 0): (__version__, 20),
        ("reused", 1): (__version__, 21),
    }
    assert ledger.export(tmp_path / "after.parquet", since=before) == 6  # without reused's row 1


def shown(export: Path) -> dict[tuple[str, int], tuple[str, int]]:
    """(request id, row): (model version, the car's position), for each exported row."""
    frame = pd.read_parquet(export)
    positions = domain_of(config.model).locate(frame[list(feature_names())])
    rows = zip(frame["request_id"], frame["row"], frame["model_version"], positions, strict=True)
    return {(request, row): (version, car) for request, row, version, car in rows}


def test_the_ledger_knows_nothing_of_http() -> None:
    web = "{'fastapi', 'starlette', 'uvicorn'}"
    probe = f"import sys, app.ledger.__main__; print(sorted({{m.split('.')[0] for m in sys.modules}} & {web}))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    result = run_ledger_command("off", tmp_path, "migrate", LEDGER_SPOOL_MAX_BYTES="lots")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("python -m app.ledger: error: invalid setting LEDGER_SPOOL_MAX_BYTES='lots'"), line
