"""The model in SQL (``car-evaluation-model sql``) and Spark's join: each row as ``/api/v1/predict`` answers it.

Real engines: DuckDB (in process), a PostgreSQL server of the test's own (``devtools.postgres``)
and Spark SQL (``local[2]``). Every car gets the API's label and bit for bit its probabilities
(the model's table is written as SQL literals); the odd and invalid values of
``test_paths_agree`` and texts that Python's ``repr`` escapes get the API's messages.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from car_evaluation_model import batch
from car_evaluation_model import spark as spark_scoring
from car_evaluation_model.config.core import config
from devtools.postgres import RunningPostgres
from devtools.programs import server_for_tests
from tests.batch.test_paths_agree import COMMAND, FEATURES, api_verdicts, batch_verdicts, corpus_rows, every_car
from tests.conftest import ARTICLE_ROW

# Texts Python's ascii quotes or escapes in its own ways, in each width of its escapes
# (PostgreSQL's text cannot hold NUL): a no-break space, a zero-width one, a Cyrillic a, a car.
ESCAPED_VALUES = [
    "it's",
    'it\'s "both"',
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "\x01\x7f\x85\xa0\xad",
    "'" * 120,
    "high\xa0",
    "\u200bhigh",
    "\u0430cc",
    "\U0001f697 and \ufeff",
    "é" * 120,
]
TABLE = "cars"
ONE_CAR = "SELECT 'low' AS buying, 'low' AS maint, '4' AS doors, 'more' AS persons, 'big' AS lug_boot, 'high' AS safety"


def script(dialect: str, table: str = TABLE) -> str:
    completed = subprocess.run(
        [str(COMMAND), "sql", "--dialect", dialect, "--table", table],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout


def odd_rows() -> list[dict[str, Any]]:
    base = {name: str(value) for name, value in ARTICLE_ROW.items()}
    return [*corpus_rows(), *({**base, name: value} for name in ("buying", "doors") for value in ESCAPED_VALUES)]


def as_table(rows: list[dict[str, Any]], types: dict[str, pa.DataType] | None = None) -> pa.Table:
    """The rows with an ``id``; each feature a text column unless ``types`` says otherwise."""
    columns = {"id": pa.array(range(len(rows)), pa.int64())}
    columns |= {name: pa.array([row[name] for row in rows], (types or {}).get(name, pa.string())) for name in FEATURES}
    return pa.table(columns)


def duckdb_scored(rows: list[dict[str, Any]]) -> pa.Table:
    connection = duckdb.connect()
    try:
        cars = as_table(rows)
        connection.register("arrow_cars", cars)
        connection.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM arrow_cars")
        connection.execute(script("duckdb"))
        scored: pa.Table = connection.sql(f"SELECT * FROM {TABLE}_scored").to_arrow_table()
        return scored
    finally:
        connection.close()


def postgres_scored(server: RunningPostgres, rows: list[dict[str, Any]]) -> pa.Table:
    with psycopg.connect(server.url, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {TABLE} CASCADE")
        connection.execute(f"CREATE TABLE {TABLE} (id BIGINT, {', '.join(f'{name} TEXT' for name in FEATURES)})")
        with connection.cursor() as cursor, cursor.copy(f"COPY {TABLE} FROM STDIN") as copy:
            for index, row in enumerate(rows):
                copy.write_row([index, *(row[name] for name in FEATURES)])
        cursor = connection.execute(script("postgresql").encode())
        cursor = connection.execute(f"SELECT * FROM {TABLE}_scored")
        names = [column.name for column in cursor.description or []]
        records = cursor.fetchall()
    return pa.Table.from_pylist([dict(zip(names, record, strict=True)) for record in records])


def spark_sql_scored(spark: Any, rows: list[dict[str, Any]]) -> pa.Table:
    spark.createDataFrame(as_table(rows)).createOrReplaceTempView(TABLE)
    for statement in script("spark").split(";\n"):
        if statement.strip():
            spark.sql(statement)
    scored: pa.Table = spark.table(f"{TABLE}_scored").toArrow()
    return scored


@pytest.fixture(scope="module")
def postgres() -> Iterator[RunningPostgres]:
    yield from server_for_tests()


Engine = Callable[[pytest.FixtureRequest, list[dict[str, Any]]], pa.Table]
ENGINES: dict[str, Engine] = {
    "DuckDB": lambda _, rows: duckdb_scored(rows),
    "PostgreSQL": lambda request, rows: postgres_scored(request.getfixturevalue("postgres"), rows),
    "Spark SQL": lambda request, rows: spark_sql_scored(request.getfixturevalue("spark"), rows),
}


ROWS = {"every car": every_car, "odd and invalid values": odd_rows}


def test_the_rows_are_every_car_and_a_mostly_invalid_corpus(client: TestClient) -> None:
    cars = api_verdicts(client, every_car())
    assert len(cars) == 1728
    assert all(verdict.error is None for verdict in cars)
    odd = api_verdicts(client, odd_rows())
    assert sum(verdict.error is not None for verdict in odd) > len(odd) / 2


@pytest.mark.parametrize("rows_of", ROWS)
@pytest.mark.parametrize("engine", ENGINES)
def test_each_row_gets_the_apis_verdict_and_message(
    engine: str, rows_of: str, client: TestClient, request: pytest.FixtureRequest
) -> None:
    """A valid row: the API's label and bit for bit its probabilities (floats compared with ==)."""
    rows = ROWS[rows_of]()
    scored = ENGINES[engine](request, rows)
    assert scored.column_names == ["id", *FEATURES, *batch.output_columns(config.model.classes)]
    assert batch_verdicts(scored) == api_verdicts(client, rows)


def test_spark_scores_text_frames_without_python(spark: Any) -> None:
    """No Python worker in the plan: valid rows by the broadcast join, invalid ones by SQL."""
    frame = spark.createDataFrame(as_table(odd_rows()))
    plan = spark_scoring.score(frame)._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" in plan
    assert "Python" not in plan, plan
    assert "ArrowEval" not in plan, plan


def test_spark_gives_typed_columns_the_apis_verdict(spark: Any, client: TestClient) -> None:
    """Integers and booleans in the join path; doubles through Python: as JSON carries them to the API."""
    base = {name: str(value) for name, value in ARTICLE_ROW.items()}
    for values, arrow_type, python_path in (
        ([4, 2, 3, 5, 0, 1, -4, None], pa.int64(), False),
        ([True, False, None], pa.bool_(), False),
        ([4.0, 2.0, 2.5, 0.0, 1e20, None], pa.float64(), True),
    ):
        rows = [{**base, "doors": value} for value in values]
        scored = spark_scoring.score(spark.createDataFrame(as_table(rows, {"doors": arrow_type})))
        plan = scored._jdf.queryExecution().executedPlan().toString()
        assert ("PythonMapInArrow" in plan or "MapInArrow" in plan) == python_path, plan
        assert batch_verdicts(scored.toArrow()) == api_verdicts(client, rows), arrow_type


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dialect", "duckdb", "--table", "cars; DROP TABLE x"], "is not a plain table name"),
        (["--dialect", "postgresql", "--table", "c" * 57], "is 57 characters long, more than 56"),
        (["--dialect", "duckdb", "--table", "c" * 63], "is 63 characters long, more than 56"),
        (["--dialect", "oracle", "--table", "cars"], "invalid choice: 'oracle'"),
    ],
)
def test_the_sql_command_refuses_a_bad_argument_in_one_line(arguments: list[str], message: str) -> None:
    completed = subprocess.run(
        [str(COMMAND), "sql", *arguments], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert message in completed.stderr.splitlines()[-1]


def psql(server: RunningPostgres, sql: str) -> subprocess.CompletedProcess[str]:
    """``sql`` run by psql as the docs say: stopping at the first error."""
    return subprocess.run(
        [str(server.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", server.url],
        input=sql,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_longest_table_name_allowed_keeps_its_table_apart_from_the_models_in_postgresql(
    postgres: RunningPostgres,
) -> None:
    """PostgreSQL cuts names at 63 bytes: a longer NAME_scored would be cut back onto another name."""
    table = "c" * 56
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE {table} AS {ONE_CAR}")
        completed = psql(postgres, script("postgresql", table))
        assert completed.returncode == 0, completed.stderr
        assert connection.execute(f"SELECT buying FROM {table}").fetchall() == [("low",)]
        assert connection.execute(f"SELECT prediction FROM {table}_scored").fetchall() == [("vgood",)]
        assert connection.execute(f"SELECT count(*) FROM {table}_model").fetchall() == [(1728,)]


def test_a_failing_postgresql_script_leaves_the_earlier_model_and_view_as_they_were(postgres: RunningPostgres) -> None:
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {TABLE} CASCADE")
        connection.execute(f"DROP TABLE IF EXISTS {TABLE}_model CASCADE")
        connection.execute(f"CREATE TABLE {TABLE} (id BIGINT, {', '.join(f'{name} TEXT' for name in FEATURES[:-1])})")
        failed = psql(postgres, script("postgresql"))
        assert failed.returncode != 0
        assert "safety" in failed.stderr
        assert connection.execute(f"SELECT to_regclass('{TABLE}_model')").fetchall() == [(None,)]
        connection.execute(f"ALTER TABLE {TABLE} ADD COLUMN safety TEXT")
        assert psql(postgres, script("postgresql")).returncode == 0
        connection.execute(f"ALTER TABLE {TABLE} DROP COLUMN safety CASCADE")  # the view goes with it
        assert psql(postgres, script("postgresql")).returncode != 0
        assert connection.execute(f"SELECT count(*) FROM {TABLE}_model").fetchall() == [(1728,)]


def test_a_failing_duckdb_script_leaves_no_model_table() -> None:
    connection = duckdb.connect()
    try:
        connection.execute(f"CREATE TABLE {TABLE} (id BIGINT, {', '.join(f'{name} TEXT' for name in FEATURES[:-1])})")
        with pytest.raises(duckdb.BinderException, match="safety"):
            connection.execute(script("duckdb"))
        connection.execute("ROLLBACK")  # what the error leaves for the session to end
        tables = connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
        assert tables == [(TABLE,)]
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("columns", "named"),
    [(["prediction"], ["prediction"]), (["error", "Probability_acc"], ["Probability_acc", "error"])],
)
def test_the_duckdb_script_refuses_a_table_with_a_column_it_adds_in_batchs_words(
    columns: list[str], named: list[str]
) -> None:
    """DuckDB would rename the view's own copy (``prediction_1``); names match whatever their case, as in DuckDB."""
    connection = duckdb.connect()
    try:
        added = ", ".join(f"1 AS {name}" for name in columns)
        connection.execute(f"CREATE TABLE q{TABLE} AS SELECT *, {added} FROM ({ONE_CAR})")
        with pytest.raises(duckdb.InvalidInputException) as failed:
            connection.execute(script("duckdb", f"q{TABLE}"))
        connection.execute("ROLLBACK")
        assert str(failed.value) == f"Invalid Input Error: {batch.OutputColumnsError(named)}"
        tables = connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
        assert tables == [(f"q{TABLE}",)]
    finally:
        connection.close()


def test_the_postgresql_script_quotes_the_name_as_the_docs_say(postgres: RunningPostgres) -> None:
    """A table created without quotes is in lower case: found by its lower-case name only."""
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE MyCars AS {ONE_CAR}")
        mixed_case = psql(postgres, script("postgresql", "MyCars"))
        assert mixed_case.returncode != 0
        assert 'relation "MyCars" does not exist' in mixed_case.stderr
        lower_case = psql(postgres, script("postgresql", "mycars"))
        assert lower_case.returncode == 0, lower_case.stderr
        assert connection.execute("SELECT prediction FROM mycars_scored").fetchall() == [("vgood",)]
