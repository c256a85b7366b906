"""Files in and out: the command line and the upload route on good, large and malformed files.

A malformed file is a one-line error (exit status 1, or a 422 naming the file), never a
traceback, and never an output left behind: not a temporary one, and not one replacing a
previous output.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx2
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from car_evaluation_model import __version__, domain_of
from car_evaluation_model.cli import main
from car_evaluation_model.config.core import config
from devtools.service import running_server
from tests.conftest import API

COMMAND = Path(sys.executable).with_name("car-evaluation-model")
URL = f"{API}/predict/file"
HEADER = "id,buying,maint,doors,persons,lug_boot,safety\n"


def cars_table(rows: int) -> pa.Table:
    """``rows`` cars cycling through the 1728, with a text id and every 10th row invalid."""
    cars = domain_of(config.model).frame()
    repeated = cars.iloc[[index % len(cars) for index in range(rows)]].reset_index(drop=True)
    repeated.loc[::10, "safety"] = "SAFE"
    table = pa.Table.from_pandas(repeated, preserve_index=False)
    return table.add_column(0, "id", pa.array([f"{index:07d}" for index in range(rows)]))


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def csv_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink)
    return sink.getvalue()


GOOD_PARQUET = parquet_bytes(cars_table(50))

# name, content, what the one-line message says
MALFORMED: list[tuple[str, bytes, str]] = [
    ("truncated.parquet", GOOD_PARQUET[: len(GOOD_PARQUET) // 2], "Parquet magic bytes not found"),
    ("text.parquet", HEADER.encode(), "Parquet magic bytes not found"),
    (
        "ragged.csv",
        (HEADER + "1,low,low,4,more,big,high\n2,low,low,4\n").encode(),
        "line 3 has 4 fields where the header has 7: 2,low,low,4",
    ),
    (
        "latin1.csv",
        (HEADER + "1,low,low,4,more,big,high\n2,low,low,4,more,big,h\xe9gh\n").encode("latin-1"),
        "row 2 (column safety) is not utf-8 text",
    ),
    (
        "utf16.csv",
        (HEADER + "1,low,low,4,more,big,high\n").encode("utf-16"),
        "it holds NUL bytes, so it is not utf-8 text",
    ),
    ("empty.csv", b"", "the file is empty"),
    ("header-only.csv", HEADER.encode(), "no rows to score"),
    ("header-only-no-line-end.csv", HEADER.removesuffix("\n").encode(), "no rows to score"),
    ("no-safety.csv", b"id,buying,maint,doors,persons,lug_boot\n1,low,low,4,more,big\n", "no column safety"),
    (
        "one-column.csv",
        b"buying:maint:doors:persons:lug_boot:safety\nlow:low:4:more:big:high\n",
        "the columns found: 'buying:maint:doors:persons:lug_boot:safety'",
    ),
    ("no-rows.parquet", parquet_bytes(cars_table(1).slice(0, 0)), "no rows to score"),
    ("no-doors.parquet", parquet_bytes(cars_table(5).drop_columns(["doors"])), "no column doors"),
]


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run(capsys: pytest.CaptureFixture[str], *arguments: str | Path) -> Completed:
    """The command, in this process: the model loads once for all these tests (the paths test runs it for real)."""
    returncode = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return Completed(returncode, captured.out, captured.err)


@pytest.mark.parametrize(("name", "content", "says"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_the_command_refuses_a_malformed_file_in_one_line_and_leaves_no_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    previous = tmp_path / "scored.parquet"
    previous.write_bytes(b"an earlier output, which must stay as it was")
    completed = run(capsys, "score", source, previous, "--rejects", tmp_path / "rejects.csv")
    assert completed.returncode == 1
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert line.startswith(f"car-evaluation-model: error: {name}: ")
    assert says in line
    assert previous.read_bytes() == b"an earlier output, which must stay as it was"
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([name, "scored.parquet"])


@pytest.mark.parametrize(("name", "content", "says"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_the_upload_refuses_a_malformed_file_with_a_422_naming_it(
    client: TestClient, name: str, content: bytes, says: str
) -> None:
    response = client.post(URL, files={"file": (name, content, "application/octet-stream")})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "file"]
    assert detail["msg"].startswith(f"{name}")
    assert says in detail["msg"]
    expected_type = "missing_column" if "no column" in says or "columns found" in says else "file_unreadable"
    assert detail["type"] == expected_type


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["score", "missing.csv", "out.csv"], "missing.csv: no such file"),
        (["score", "cars.txt", "out.csv"], "cars.txt: unsupported format '.txt'; use .csv or .parquet"),
        (["score", "cars.csv", "out.json"], "out.json: unsupported format '.json'; use .csv or .parquet"),
        (["score", "cars.csv", "nowhere/out.csv"], "nowhere/out.csv: no such directory"),
        (["score", "cars.csv", "scored/"], "scored: is a directory; give a file name"),
        (["score", "cars.csv", "out.csv", "--rejects", "scored"], "scored: is a directory; give a file name"),
    ],
)
def test_the_command_names_what_is_wrong_with_its_arguments(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cars.csv").write_bytes(csv_bytes(cars_table(3)))
    (tmp_path / "cars.txt").write_bytes(csv_bytes(cars_table(3)))
    (tmp_path / "scored").mkdir()
    completed = run(capsys, *arguments)
    assert completed.returncode == 1
    assert completed.stderr == f"car-evaluation-model: error: {says}\n"


@pytest.mark.parametrize("value", ["abc", "1.5", "0", "-3"])
def test_chunk_rows_must_be_a_whole_number_above_zero(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["score", "cars.csv", "out.csv", "--chunk-rows", value])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"car-evaluation-model score: error: argument --chunk-rows: must be a whole number above 0, not {value!r}"
    )


@pytest.mark.parametrize(
    ("column", "values", "arrow_type"),
    [
        ("tags", [[1, 2], [], None], "list<element: int64>"),
        ("owner", [{"name": "Ana"}, None, {"name": "Bo"}], "struct<name: string>"),
        ("buying", [["low"], ["med"], None], "list<element: string>"),  # a feature: each row refused
    ],
)
def test_a_column_csv_cannot_hold_is_named_and_parquet_keeps_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, column: str, values: list[object], arrow_type: str
) -> None:
    table = cars_table(3)
    table = table.drop_columns([column]) if column in table.column_names else table
    source = tmp_path / "cars.parquet"
    pq.write_table(table.append_column(column, pa.array(values)), source)
    refused = run(capsys, "score", source, tmp_path / "out.csv", "--rejects", tmp_path / "rejects.parquet")
    assert refused.returncode == 1
    assert refused.stderr == (
        f"car-evaluation-model: error: {tmp_path / 'out.csv'}: the column {column!r} is {arrow_type}, "
        "which CSV cannot hold; write Parquet, or leave the column out\n"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cars.parquet"]
    kept = run(capsys, "score", source, tmp_path / "out.parquet")
    assert kept.returncode == 0, kept.stderr
    assert pq.read_table(tmp_path / "out.parquet")[column].to_pylist() == values


def test_the_command_explains_itself() -> None:
    completed = subprocess.run(
        [str(COMMAND), "score", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0
    for term in ("INPUT", "OUTPUT", "--chunk-rows", "--rejects", ".parquet", "Exit status", "buying"):
        assert term in completed.stdout


@pytest.mark.parametrize("chunk_rows", [7, 1000])
@pytest.mark.parametrize(
    ("input_name", "output_name"), [("cars.csv", "scored.csv"), ("cars.parquet", "scored.parquet")]
)
def test_the_command_scores_in_chunks_keeps_other_columns_and_writes_the_rejects(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, chunk_rows: int, input_name: str, output_name: str
) -> None:
    table = cars_table(95)
    source = tmp_path / input_name
    source.write_bytes(csv_bytes(table) if source.suffix == ".csv" else parquet_bytes(table))
    completed = run(
        capsys,
        "score",
        source,
        tmp_path / output_name,
        "--chunk-rows",
        str(chunk_rows),
        "--rejects",
        tmp_path / "rejects.parquet",
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""  # no progress bar off a terminal
    assert completed.stdout.startswith("rows 95, scored 85, rejected 10, ")
    assert "rows/s" in completed.stdout
    output = tmp_path / output_name
    scored = (
        pa_csv.read_csv(output, convert_options=pa_csv.ConvertOptions(column_types={"id": pa.string()}))
        if output.suffix == ".csv"
        else pq.read_table(output)
    )
    assert scored.column_names[: table.num_columns] == table.column_names
    assert scored["id"].to_pylist() == table["id"].to_pylist()  # in order, "0000007" still with its zeros
    rejects = pq.read_table(tmp_path / "rejects.parquet")
    assert rejects["id"].to_pylist() == [f"{index:07d}" for index in range(0, 95, 10)]
    assert set(rejects["error"].to_pylist()) == {
        "safety has the value 'SAFE', which is not allowed; allowed values: low, med, high"
    }
    assert pc.all(pc.is_null(rejects["prediction"])).as_py()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([input_name, output_name, "rejects.parquet"])


def test_the_upload_answers_a_scored_file_with_its_counts(client: TestClient) -> None:
    table = cars_table(30)
    response = client.post(URL, files={"file": ("my cars.parquet", parquet_bytes(table), "application/octet-stream")})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert response.headers["content-disposition"] == 'attachment; filename="my_cars.scored.parquet"'
    scored = pq.read_table(io.BytesIO(response.content))
    assert scored["id"].to_pylist() == table["id"].to_pylist()
    assert response.headers["x-rows"] == "30"
    assert response.headers["x-rows-rejected"] == "3"
    counts = pc.value_counts(scored["prediction"].drop_null()).to_pylist()
    expected = dict.fromkeys(config.model.classes, 0) | {entry["values"]: entry["counts"] for entry in counts}
    assert orjson.loads(response.headers["x-class-counts"]) == expected


Upload = Callable[..., TestClient]


@pytest.mark.parametrize("name", ["cars.csv", "cars.parquet"])
def test_an_upload_past_max_upload_rows_is_a_422_naming_the_limit(make_client: Upload, name: str) -> None:
    client = make_client(MAX_UPLOAD_ROWS=20)
    table = cars_table(21)
    content = csv_bytes(table) if name.endswith(".csv") else parquet_bytes(table)
    response = client.post(URL, files={"file": (name, content, "application/octet-stream")})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == f"{name} has more rows than MAX_UPLOAD_ROWS (20)"
    assert make_client(MAX_UPLOAD_ROWS=21).post(URL, files={"file": (name, content)}).status_code == 200


def test_an_upload_past_max_upload_bytes_is_a_413_naming_the_limit(make_client: Upload) -> None:
    client = make_client(MAX_UPLOAD_BYTES=4096)
    content = csv_bytes(cars_table(200))
    assert len(content) > 4096
    response = client.post(URL, files={"file": ("cars.csv", content, "text/csv")})
    assert response.status_code == 413
    assert response.json()["detail"][0]["msg"] == "the file is larger than MAX_UPLOAD_BYTES (4096 bytes)"
    small = csv_bytes(cars_table(20))
    assert client.post(URL, files={"file": ("cars.csv", small, "text/csv")}).status_code == 200


def test_an_upload_needs_a_csv_or_parquet_file_in_the_file_field(client: TestClient) -> None:
    content = csv_bytes(cars_table(3))
    wrong_type = client.post(URL, files={"file": ("cars.json", content, "application/json")})
    assert wrong_type.status_code == 415
    assert "send a .csv or .parquet file" in wrong_type.json()["detail"][0]["msg"]
    by_media_type = client.post(URL, files={"file": ("cars", content, "text/csv")})
    assert by_media_type.status_code == 200
    wrong_field = client.post(URL, files={"upload": ("cars.csv", content, "text/csv")})
    assert wrong_field.status_code == 422
    assert wrong_field.json()["detail"][0]["msg"].startswith("the form has no file field 'file'")


def test_an_upload_counts_its_rows_in_the_metrics_as_predict_does(make_client: Upload) -> None:
    client = make_client(METRICS_ENABLED=True)
    response = client.post(URL, files={"file": ("cars.csv", csv_bytes(cars_table(40)), "text/csv")})
    assert response.status_code == 200
    metrics = client.get("/metrics").text
    counts = orjson.loads(response.headers["x-class-counts"])
    assert sum(counts.values()) == 36
    for label, rows in counts.items():
        if rows:
            assert (
                f'car_evaluation_predictions_total{{class="{label}",model_version="{__version__}"}} {rows}.0' in metrics
            )
    assert 'car_evaluation_rejected_inputs_total{field="safety",kind="value_not_allowed"} 4.0' in metrics
    assert 'car_evaluation_request_rows_count{api="v1"} 1.0' in metrics


def test_health_answers_while_a_large_upload_is_scored(tmp_path: Path) -> None:
    """The upload's reading, scoring and writing run off the event loop: other requests are answered meanwhile."""
    content = csv_bytes(cars_table(600_000))  # about 25 MB: seconds of work
    with running_server(tmp_path / "server.log") as server, ThreadPoolExecutor(max_workers=1) as pool:
        upload = pool.submit(
            httpx2.post,
            f"{server.base_url}{URL}",
            files={"file": ("cars.csv", content, "text/csv")},
            timeout=120,
        )
        answered_meanwhile = 0
        deadline = time.monotonic() + 120
        while not upload.done() and time.monotonic() < deadline:
            health = httpx2.get(f"{server.base_url}{API}/health", timeout=30)
            assert health.status_code == 200
            answered_meanwhile += not upload.done()
        scored = upload.result()
    assert scored.status_code == 200
    assert scored.headers["X-Rows"] == "600000"
    # Dozens while seconds of work go on; a blocked event loop would answer one or two at most.
    print(f"\n{answered_meanwhile} health answers while the upload was scored")
    assert answered_meanwhile >= 5
