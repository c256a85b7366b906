"""Every batch path answers each row exactly as ``/api/v1/predict`` does.

The paths: ``batch.score`` on Arrow and pandas, the command line (CSV and Parquet in and out),
the upload route (CSV and Parquet), Spark (``local[2]``) and Dask (two worker processes). All
1728 cars get the API's labels and bit-for-bit its probabilities; a corpus of invalid and oddly
spelled values gets, row by row, the API's verdict and message (without its ``row 0:``).
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from car_evaluation_model import batch, domain_of
from car_evaluation_model import dask as dask_scoring
from car_evaluation_model import spark as spark_scoring
from car_evaluation_model.config.core import config
from tests.conftest import API, ARTICLE_ROW

FEATURES = config.model.feature_names
CLASSES = config.model.classes
PROBABILITIES = [f"probability_{label}" for label in CLASSES]
JSON = {"content-type": "application/json"}
COMMAND = Path(sys.executable).with_name("car-evaluation-model")

# Values as a file carries them: text, and null where the format has it (Parquet).
ODD_VALUES: list[str | None] = [
    "4", "5more", "2", "more", "low", "vhigh", "big", "high",
    "2.5", "4.0", "four", " 4", "4 ", "LOW", "Low ", "VHIGH", "0", "1", "true", "True",
    "", "null", "None", "NaN", "'low'", "low;med", '"quoted"', "a,b", "é", "Ünïcödé 🚗", "x" * 300,
    # Near an allowed value (a suggestion), and near only to a case folding that is not ASCII's (none).
    "v-high", "5 More", "5_MORE", "-2", "vhİgh", "\uff2c\uff2f\uff37", "ß", "\uff28igh",
    None,
]  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """The API's answer for one row: its label and probabilities, or its messages."""

    prediction: str | None
    probabilities: list[float] | None
    error: str | None


def api_verdicts(client: TestClient, rows: list[dict[str, Any]]) -> list[Verdict]:
    """Each row's verdict from /api/v1/predict: all at once when all are valid, else one request per row."""
    response = client.post(f"{API}/predict", content=orjson.dumps({"inputs": rows}), headers=JSON)
    if response.status_code == 200:
        body = response.json()
        return [
            Verdict(label, [probabilities[name] for name in CLASSES], None)
            for label, probabilities in zip(body["predictions"], body["probabilities"], strict=True)
        ]
    if len(rows) > 1:
        return [verdict for row in rows for verdict in api_verdicts(client, [row])]
    assert response.status_code == 422, response.text
    messages = [detail["msg"].removeprefix("row 0: ") for detail in response.json()["detail"]]
    return [Verdict(None, None, "; ".join(messages))]


def batch_verdicts(scored: pa.Table) -> list[Verdict]:
    scored = scored.take(pc.sort_indices(pc.cast(scored["id"], pa.int64())))  # CSV to Parquet keeps id as text
    probabilities = zip(*(scored[name].to_pylist() for name in PROBABILITIES), strict=True)
    return [
        Verdict(prediction, None if prediction is None else list(row), error)
        for prediction, row, error in zip(
            scored["prediction"].to_pylist(), probabilities, scored["error"].to_pylist(), strict=True
        )
    ]


@dataclass(frozen=True)
class Inputs:
    """The same rows as an Arrow table, a Parquet file and a CSV file, with an ``id`` column."""

    table: pa.Table
    parquet: Path
    csv: Path


def inputs_of(rows: list[dict[str, Any]], directory: Path) -> Inputs:
    table = pa.table({"id": list(range(len(rows))), **{name: [row[name] for row in rows] for name in FEATURES}})
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, directory / "cars.parquet")
    pa_csv.write_csv(table, directory / "cars.csv")
    return Inputs(table, directory / "cars.parquet", directory / "cars.csv")


def read_scored_csv(source: Path | io.BytesIO) -> pa.Table:
    types = {
        "id": pa.int64(),
        "prediction": pa.string(),
        "error": pa.string(),
        **dict.fromkeys(PROBABILITIES, pa.float64()),
    }
    # The writer leaves a null empty and quotes an empty text: only the former is null.
    options = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pa_csv.read_csv(source, convert_options=options)


def run_command(source: Path, output: Path) -> pa.Table:
    completed = subprocess.run(
        [str(COMMAND), "score", str(source), str(output), "--chunk-rows", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("rows "), completed.stdout
    return read_scored_csv(output) if output.suffix == ".csv" else pq.read_table(output)


def upload(client: TestClient, source: Path) -> pa.Table:
    media_type = "text/csv" if source.suffix == ".csv" else "application/vnd.apache.parquet"
    response = client.post(f"{API}/predict/file", files={"file": (source.name, source.read_bytes(), media_type)})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'attachment; filename="cars.scored{source.suffix}"'
    content = io.BytesIO(response.content)
    return read_scored_csv(content) if source.suffix == ".csv" else pq.read_table(content)


Path_ = Callable[[Inputs, Path, pytest.FixtureRequest], pa.Table]

PATHS: dict[str, Path_] = {
    "function, Arrow": lambda inputs, _, __: batch.score(inputs.table),
    "function, Arrow record batch": lambda inputs, _, __: pa.Table.from_batches([batch.score(record_batch(inputs))]),
    "function, pandas": lambda inputs, _, __: pa.Table.from_pandas(batch.score(inputs.table.to_pandas())),
    "command, CSV to CSV": lambda inputs, tmp, _: run_command(inputs.csv, tmp / "out.csv"),
    "command, CSV to Parquet": lambda inputs, tmp, _: run_command(inputs.csv, tmp / "out.parquet"),
    "command, Parquet to Parquet": lambda inputs, tmp, _: run_command(inputs.parquet, tmp / "out.parquet"),
    "upload, CSV": lambda inputs, _, request: upload(request.getfixturevalue("client"), inputs.csv),
    "upload, Parquet": lambda inputs, _, request: upload(request.getfixturevalue("client"), inputs.parquet),
    "Spark": lambda inputs, _, request: spark_scored(request.getfixturevalue("spark"), inputs.parquet),
    "Dask": lambda inputs, _, request: dask_scored(request.getfixturevalue("dask_client"), inputs.parquet),
}  # fmt: skip


def record_batch(inputs: Inputs) -> pa.RecordBatch:
    [only] = inputs.table.to_batches()
    return only


def spark_scored(spark: Any, source: Path) -> pa.Table:
    scored: pa.Table = spark_scoring.score(spark.read.parquet(str(source))).toArrow()
    return scored


def dask_scored(client: Any, source: Path) -> pa.Table:
    frame = dask_scoring.score(dd.read_parquet(source).repartition(npartitions=2)).compute()
    return pa.Table.from_pandas(frame, preserve_index=False)


def every_car() -> list[dict[str, Any]]:
    cars = domain_of(config.model).frame().to_dict("records")
    return [{str(name): value for name, value in row.items()} for row in cars]


def corpus_rows() -> list[dict[str, Any]]:
    base = {name: str(value) for name, value in ARTICLE_ROW.items()}
    rows = [{**base, name: value} for name in FEATURES for value in ODD_VALUES]
    rows.append({**base, "buying": "LOW", "doors": None, "safety": "x" * 300})  # several bad fields
    rows.append(dict.fromkeys(FEATURES))
    return rows


@pytest.mark.parametrize("path", PATHS)
def test_every_car_gets_the_apis_answer_bit_for_bit(
    path: str, client: TestClient, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cars = every_car()
    expected = api_verdicts(client, cars)
    assert len(expected) == 1728
    assert all(verdict.error is None for verdict in expected)
    scored = PATHS[path](inputs_of(cars, tmp_path / "in"), tmp_path, request)
    assert batch_verdicts(scored) == expected  # floats compared with ==: the same bits


@pytest.mark.parametrize("path", PATHS)
def test_odd_and_invalid_values_get_the_apis_verdict_and_message(
    path: str, client: TestClient, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    rows = corpus_rows()
    scored = PATHS[path](inputs_of(rows, tmp_path / "in"), tmp_path, request)
    if path.startswith(("command, CSV", "upload, CSV")):
        rows = [{name: "" if value is None else value for name, value in row.items()} for row in rows]
    expected = api_verdicts(client, rows)
    assert sum(verdict.error is not None for verdict in expected) > len(rows) / 2  # the corpus is mostly invalid
    assert batch_verdicts(scored) == expected


def test_the_function_gives_typed_values_the_apis_verdict(client: TestClient) -> None:
    """Numbers, booleans, NaN and nulls in pandas object columns, as JSON carries them to the API."""
    values: list[Any] = [4, 4.0, 2, 2.5, 0, 1, True, False, None, math.nan, "4", "5more", 5]
    base = {name: str(value) for name, value in ARTICLE_ROW.items()}
    rows = [{**base, name: value} for name in ("doors", "persons") for value in values]
    frame = pd.DataFrame(
        {"id": range(len(rows)), **{name: pd.Series([row[name] for row in rows], dtype=object) for name in FEATURES}}
    )
    scored = pa.Table.from_pandas(batch.score(frame).drop(columns=FEATURES), preserve_index=False)
    as_json = [
        {name: None if isinstance(value, float) and math.isnan(value) else value for name, value in row.items()}
        for row in rows
    ]
    assert batch_verdicts(scored) == api_verdicts(client, as_json)


# Lists and structs, which Arrow cannot dictionary-encode: as JSON's arrays and objects reach the API.
NESTED_VALUES: dict[str, list[Any]] = {
    "list": [["low"], [], ["low", "med"], ["low"], None, "low"],
    "struct": [{"value": "low"}, {"value": None}, {"value": "low"}, None],
}
NESTED_PATHS = ["function, Arrow", "command, Parquet to Parquet", "upload, Parquet"]


@pytest.mark.parametrize("path", NESTED_PATHS)
@pytest.mark.parametrize("kind", NESTED_VALUES)
def test_a_list_or_struct_value_gets_the_apis_verdict_and_message(
    kind: str, path: str, client: TestClient, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    base = {name: str(value) for name, value in ARTICLE_ROW.items()}
    values = [value for value in NESTED_VALUES[kind] if kind != "list" or not isinstance(value, str)]
    rows = [{**base, "buying": value} for value in values]
    table = pa.table({"id": list(range(len(rows))), **{name: [row[name] for row in rows] for name in FEATURES}})
    assert pa.types.is_nested(table.schema.field("buying").type)
    pq.write_table(table, tmp_path / "cars.parquet")
    # No CSV: it cannot hold such a column.
    scored = PATHS[path](Inputs(table, tmp_path / "cars.parquet", tmp_path / "none.csv"), tmp_path, request)
    expected = api_verdicts(client, rows)
    assert all(verdict.error is not None for verdict in expected)
    assert batch_verdicts(scored) == expected


def test_pandas_lists_and_dicts_get_the_apis_verdict_and_message(client: TestClient) -> None:
    """Python objects pandas cannot hash, beside texts: each told apart, 'None' the text not taken for null."""
    base = {name: str(value) for name, value in ARTICLE_ROW.items()}
    values: list[Any] = [*NESTED_VALUES["list"], *NESTED_VALUES["struct"], "None", {"value": "low"}]
    rows = [{**base, "buying": value} for value in values]
    frame = pd.DataFrame(
        {"id": range(len(rows)), **{name: pd.Series([row[name] for row in rows], dtype=object) for name in FEATURES}}
    )
    scored = pa.Table.from_pandas(batch.score(frame).drop(columns=FEATURES), preserve_index=False)
    assert batch_verdicts(scored) == api_verdicts(client, rows)
