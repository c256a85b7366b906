"""Labels: each checked on its own, errors naming the field and allowed values; bulk files by the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.ledger.cars import CLASSES
from devtools.ledger_batches import answered
from tests.ledger.conftest import OpenLedger, run_ledger_command


def test_each_label_gets_its_error_and_the_valid_ones_are_kept(
    ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path
) -> None:
    ledger = open_ledger(ledger_url)
    ledger.record(answered("req-1", [10, 20, 30]))
    labels: list[Any] = [
        {"request_id": "req-1", "row": 0, "label": "acc"},
        {"request_id": "req-1", "row": 1, "label": "excellent"},
        {"request_id": "req 1", "row": 1, "label": "acc"},
        {"request_id": "req-1", "row": -1, "label": "acc"},
        {"request_id": "req-1", "row": True, "label": "acc"},
        {"request_id": "req-1", "label": "acc"},
        ["req-1", 2, "acc"],
        {"request_id": "req-1", "row": 2, "label": "good"},
        {"request_id": "req-1", "row": 1, "label": "acc", "confidence": 0.9},
    ]
    errors = ledger.add_labels(labels)

    assert errors[0] is None
    assert errors[7] is None
    unknown = errors[1]
    assert unknown is not None
    assert (unknown["field"], unknown["value"], unknown["allowed"]) == ("label", "excellent", list(CLASSES))
    assert "'excellent'" in unknown["message"]
    assert "unacc, acc, good, vgood" in unknown["message"]
    fields = [e["field"] if e else None for e in errors]
    assert fields == [None, "label", "request_id", "row", "row", "row", None, None, "confidence"]
    assert [e["type"] if e else None for e in errors] == [
        None,
        "value_not_allowed",
        "malformed_request_id",
        "malformed_row",
        "malformed_row",
        "missing",
        "label_not_object",
        None,
        "unknown_field",
    ]
    assert "unknown field 'confidence'; a label has the fields request_id, row, label" in str(errors[8])
    assert ledger.drain(30)
    ledger.export(tmp_path / "out.parquet")
    frame = pq.read_table(tmp_path / "out.parquet").to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    assert frame.sort_values("row")["label"].fillna("-").tolist() == ["acc", "-", "good"]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_bulk_labels_from_a_file(ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path, suffix: str) -> None:
    data_dir = tmp_path / "data"
    ledger = open_ledger(ledger_url, data_dir)
    ledger.record(answered("bulk-1", [1, 2, 3, 4]))
    assert ledger.drain(30)
    labels = pd.DataFrame(
        {"request_id": ["bulk-1"] * 5, "row": [0, 1, 2, 3, 0], "label": ["acc", "good", "vgood", "unacc", "good"]}
    )
    path = tmp_path / f"labels.{suffix}"
    if suffix == "csv":
        labels.to_csv(path, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(labels, preserve_index=False), path)

    result = run_ledger_command(ledger_url, data_dir, "labels", str(path))
    assert result.returncode == 0, result.stderr
    assert "5 labels loaded" in result.stdout

    (version,) = ledger.performance()
    assert version["labelled"] == 4
    ledger.export(tmp_path / "out.parquet")
    frame = pd.read_parquet(tmp_path / "out.parquet").sort_values("row")
    assert frame["label"].tolist() == ["good", "good", "vgood", "unacc"]  # row 0 corrected by the last line


def test_a_file_with_a_wrong_label_loads_nothing(
    ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    ledger = open_ledger(ledger_url, data_dir)
    ledger.record(answered("bulk-2", [1, 2]))
    assert ledger.drain(30)
    path = tmp_path / "labels.csv"
    path.write_text("request_id,row,label\nbulk-2,0,acc\nbulk-2,1,great\n", encoding="utf-8")

    result = run_ledger_command(ledger_url, data_dir, "labels", str(path))

    assert result.returncode == 1
    assert "label 1 (data row 2): label has the value 'great'" in result.stderr
    assert "allowed values: unacc, acc, good, vgood" in result.stderr
    (version,) = ledger.performance()
    assert version["labelled"] == 0


def test_export_command(ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ledger = open_ledger(ledger_url, data_dir)
    v2_id = "a v2 id\twith \\ and\r\n"  # any string a client sends: COPY's special characters too
    ledger.record(answered("exported", [5, 6, 7], rows=[3, 5, 9], v2_id=v2_id))  # a chunk past the first
    assert ledger.drain(30)
    out = tmp_path / "out.parquet"

    result = run_ledger_command(ledger_url, data_dir, "export", "--since", "2000-01-01T00:00:00+00:00", str(out))

    assert result.returncode == 0, result.stderr
    assert "3 predictions written" in result.stdout
    frame = pd.read_parquet(out)
    assert frame["row"].tolist() == [3, 5, 9]
    assert set(frame["v2_id"]) == {v2_id}
    assert frame[["buying", "maint", "doors", "persons", "lug_boot", "safety"]].notna().all().all()


MISTAKES = {
    # A user's mistake, as a file (None: no file there), and what the one line says.
    "no such file": (None, "cannot read"),
    "a column missing": ("request_id,label\nreq-a,acc\n", "has no column row: a labels file has the columns"),
    "a ragged line": ("request_id,row,label\nreq-a,0\n", "CSV parse error: Expected 3 columns, got 2"),
    "an empty file": ("", "Empty CSV file"),
    "not Parquet": ("not parquet", "cannot read"),
}


@pytest.mark.parametrize(("content", "says"), MISTAKES.values(), ids=MISTAKES.keys())
def test_a_labels_file_the_command_cannot_use_is_one_line(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / ("labels.parquet" if content == "not parquet" else "labels.csv")
    if content is not None:
        path.write_text(content, encoding="utf-8")

    result = run_ledger_command(None, tmp_path / "data", "labels", str(path))

    assert result.returncode == 2
    assert result.stderr.startswith("python -m app.ledger: error: ")
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_each_line_of_a_csv_is_checked_on_its_own(tmp_path: Path) -> None:
    # A row that is not a number must not turn the whole column to text and hide the other errors.
    path = tmp_path / "labels.csv"
    path.write_text("request_id,row,label\nreq-a,0,excellent\nreq-a,x,acc\nreq-b, 1 ,vgood\n", encoding="utf-8")

    result = run_ledger_command(None, tmp_path / "data", "labels", str(path))

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("label 0 (data row 1): label has the value 'excellent'")
    assert lines[1].startswith("label 1 (data row 2): row must be a whole number from 0 to 2147483647")
    assert lines[2] == "2 of 3 labels refused; nothing loaded"


@pytest.mark.parametrize(
    ("out", "says"),
    [("out.csv", "the export is a Parquet file: name it *.parquet"), ("missing/out.parquet", "no directory")],
)
def test_an_export_the_command_cannot_write_is_one_line(tmp_path: Path, out: str, says: str) -> None:
    result = run_ledger_command(None, tmp_path / "data", "export", str(tmp_path / out))

    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    unreachable = "postgresql://ledger@127.0.0.1:1/ledger?connect_timeout=2"

    result = run_ledger_command(unreachable, tmp_path / "data", "migrate")

    assert result.returncode == 2
    assert result.stderr.startswith("python -m app.ledger: error: cannot reach the ledger's database: connection")
    assert len(result.stderr.splitlines()) == 1
