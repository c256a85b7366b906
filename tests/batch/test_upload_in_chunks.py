"""An upload of several tables: answered as one table would be, and refused whole when a later table fails.

The route reads, scores and writes ``CHUNK_ROWS`` rows at a time; these files have two and a
half tables' worth, so that the limit and a broken row are found after tables were scored.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from app.api.routes.predict_file import CHUNK_ROWS
from app.config import Settings
from app.main import create_app
from car_evaluation_model.batch import score
from car_evaluation_model.batch_files import FileFormat, read_table, table_bytes
from tests.batch.test_files import URL, cars_table, csv_bytes, parquet_bytes
from tests.test_data_plane import Seen

ROWS = CHUNK_ROWS * 5 // 2
TABLE = cars_table(ROWS)  # every 10th row invalid
CONTENTS = {"cars.csv": csv_bytes(TABLE), "cars.parquet": parquet_bytes(TABLE)}
Recorded = Callable[..., tuple[TestClient, Seen]]


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    """A client for an app built with other settings, and a recorder attached to its data plane."""
    with ExitStack() as clients:

        def build(**overrides: Any) -> tuple[TestClient, Seen]:
            app = create_app(Settings(**overrides))
            seen = Seen()
            app.state.data_plane.attach(seen)
            return clients.enter_context(TestClient(app)), seen

        yield build


def answer_of_one_table(name: str) -> bytes:
    """What the route answered when it scored the file as one table."""
    file_format: FileFormat = "csv" if name.endswith(".csv") else "parquet"
    return table_bytes(score(read_table(io.BytesIO(CONTENTS[name]), file_format, name, ROWS)), file_format)


@pytest.mark.parametrize("name", list(CONTENTS))
def test_a_file_of_several_tables_is_answered_as_one_table_would_be(recorded: Recorded, name: str) -> None:
    client, seen = recorded()
    response = client.post(URL, files={"file": (name, CONTENTS[name])})
    assert response.status_code == 200
    assert response.headers["x-rows"] == str(ROWS)
    assert response.headers["x-rows-rejected"] == str(ROWS // 10)
    assert response.headers["content-length"] == str(len(response.content))
    expected = answer_of_one_table(name)
    if name.endswith(".csv"):
        assert response.content == expected
    else:  # the same table, its row groups the tables it was scored in
        answered = pq.ParquetFile(io.BytesIO(response.content))
        assert answered.metadata.num_row_groups == 3
        assert answered.read().equals(pq.read_table(io.BytesIO(expected)))
        assert answered.schema_arrow.metadata == pq.read_schema(io.BytesIO(expected)).metadata
    row_numbers = [row for _, answer in seen.answers for row in answer.row_numbers or []]
    assert row_numbers == [row for row in range(ROWS) if row % 10]
    assert sum(refusal.refused_rows for _, refusal in seen.refusals) == ROWS // 10


@pytest.mark.parametrize("name", list(CONTENTS))
def test_a_file_past_the_row_limit_in_a_later_table_is_refused_whole_and_not_recorded(
    recorded: Recorded, name: str
) -> None:
    client, seen = recorded(MAX_UPLOAD_ROWS=ROWS - 1)
    response = client.post(URL, files={"file": (name, CONTENTS[name])})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == f"{name} has more rows than MAX_UPLOAD_ROWS ({ROWS - 1})"
    assert (seen.answers, seen.refusals) == ([], [])


def test_a_broken_row_in_a_later_table_is_a_422_and_nothing_is_recorded(recorded: Recorded) -> None:
    lines = CONTENTS["cars.csv"].split(b"\n")
    broken_line = CHUNK_ROWS * 2 + 10
    lines[broken_line - 1] = b'"0200009","low","low"'
    client, seen = recorded()
    response = client.post(URL, files={"file": ("cars.csv", b"\n".join(lines))})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["type"] == "file_unreadable"
    assert detail["msg"].startswith(f"cars.csv: line {broken_line} has 3 fields")
    assert (seen.answers, seen.refusals) == ([], [])
