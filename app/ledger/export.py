"""The joined ledger, predictions with their latest labels, as a Parquet file (pyarrow)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from app.ledger.cars import CLASSES, cars_at, feature_names
from app.ledger.performance import LATEST_LABELS, PredictionFilter, prediction_filter, predictions
from app.ledger.store import RequestIdColumns, Store

CHUNK_ROWS = 100_000
TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("time", TIMESTAMP),
        ("request_id", pa.string()),
        ("v2_id", pa.string()),
        ("row", pa.int32()),
        ("model_version", pa.string()),
        ("route", pa.string()),
        *((name, pa.string()) for name in feature_names()),
        ("prediction", pa.string()),
        *((f"probability_{label}", pa.float64()) for label in CLASSES),
        ("label", pa.string()),
        ("label_time", TIMESTAMP),
    ]
)


def export_sql(request_id: RequestIdColumns, prediction: PredictionFilter) -> str:
    return f"""
    WITH latest AS ({LATEST_LABELS}), {predictions(request_id, prediction.in_range)}
    SELECT p.time, p.request_id, p.v2_id, p.row, v.name, r.name, p.version_id, p.position, p.class, l.label, l.time
    FROM predictions p
    JOIN ledger_versions v ON v.id = p.version_id
    JOIN ledger_routes r ON r.id = p.route_id
    LEFT JOIN latest l ON l.request_id = p.request_id AND l.row = p.row
    WHERE {prediction.where}
    ORDER BY p.time, p.request_id, p.row"""


def export(store: Store, out: Path, *, since: datetime | None = None, until: datetime | None = None) -> int:
    """Write the predictions made in [since, until) with their latest labels to ``out``; the row count."""
    answers = _answers(store)
    prediction = prediction_filter(store, since=since, until=until)
    rows = store.query(export_sql(store.REQUEST_ID, prediction), prediction.parameters)
    count = 0
    with pq.ParquetWriter(out, SCHEMA) as writer:
        for chunk in _chunks(rows):
            writer.write_batch(_batch(chunk, answers))
            count += len(chunk)
        if count == 0:
            writer.write_table(SCHEMA.empty_table())
    return count


def _answers(store: Store) -> dict[tuple[int, int], list[float]]:
    answers: dict[tuple[int, int], list[float]] = {}
    for version_id, position, class_, probability in store.query(
        "SELECT version_id, position, class, probability FROM ledger_answers", {}
    ):
        answers.setdefault((version_id, position), [0.0] * len(CLASSES))[class_] = probability
    return answers


def _chunks(rows: Iterator[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    while chunk := list(islice(rows, CHUNK_ROWS)):
        yield chunk


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(value, UTC)  # SQLite keeps seconds since the epoch


def _batch(chunk: list[Sequence[Any]], answers: dict[tuple[int, int], list[float]]) -> pa.RecordBatch:
    columns = list(zip(*chunk, strict=True))
    times, request_ids, v2_ids, rows, versions, routes, version_ids, positions, classes, labels, label_times = columns
    cars = cars_at(positions)
    probabilities = [
        answers[(version_id, position)] for version_id, position in zip(version_ids, positions, strict=True)
    ]
    data: dict[str, Any] = {
        "time": [_moment(value) for value in times],
        "request_id": request_ids,
        "v2_id": v2_ids,
        "row": rows,
        "model_version": versions,
        "route": routes,
        **cars,
        "prediction": [CLASSES[index] for index in classes],
        **{f"probability_{label}": [row[index] for row in probabilities] for index, label in enumerate(CLASSES)},
        "label": [None if index is None else CLASSES[index] for index in labels],
        "label_time": [_moment(value) for value in label_times],
    }
    return pa.RecordBatch.from_pydict(data, schema=SCHEMA)
