"""Live performance per model version, from counts the database aggregates.

The database groups the predictions by model version, latest true label and predicted class,
with the sums the estimates need; the rest (accuracy, per-class precision, recall and F1) is
arithmetic on that confusion matrix. The latest label of a row is the last one to arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.ledger.cars import CLASSES
from app.ledger.store import RequestIdColumns, Store

LATEST_LABELS = """
    SELECT request_id, row, label, time FROM (
        SELECT request_id, row, label, time,
               row_number() OVER (PARTITION BY request_id, row ORDER BY id DESC) AS newest
        FROM ledger_labels) AS ranked
    WHERE newest = 1"""
PREDICTION_COLUMNS = "time, request_id, v2_id, version_id, route_id, row, position, class"


# Of a row recorded twice, the latest record first; the other keys only make a tie come out the same way.
NEWEST_FIRST = "time DESC, version_id DESC, route_id DESC, position DESC, class DESC, v2_id DESC NULLS LAST"


@dataclass(frozen=True)
class PredictionFilter:
    in_range: str  # over ``time``, which a batch of ``ledger_predictions`` and a row of the view both have
    where: str  # over the versions ``v`` and the routes ``r``
    parameters: dict[str, Any]


def prediction_filter(
    store: Store,
    model_version: str | None = None,
    route: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PredictionFilter:
    """The predictions of ``model_version`` on ``route`` made in [since, until), each left out when None."""
    conditions, in_range, parameters = ["TRUE"], ["TRUE"], {}
    for column, name, value in (
        ("v.name", "model_version", model_version),
        ("r.name", "route", route),
    ):
        if value is not None:
            conditions.append(f"{column} = :{name}")
            parameters[name] = value
    if since is not None:
        in_range.append("time >= :since")
        parameters["since"] = store.time_value(since)
    if until is not None:
        in_range.append("time < :until")
        parameters["until"] = store.time_value(until)
    return PredictionFilter(" AND ".join(in_range), " AND ".join(conditions), parameters)


def predictions(request_id: RequestIdColumns, in_range: str) -> str:
    """Common table expressions ending in ``predictions``: the rows of the view recorded ``in_range``.

    A request id and row identify a prediction, as they identify a label's row. One recorded
    twice (a request answered twice: retried by nginx on another replica after a worker died
    between recording and answering it, or sent again by a client with the same id) is one
    prediction, its latest record in the range. The repeated ids are found among the batches of
    ``ledger_predictions``, grouped by their stored columns, not among rows; only their rows are
    ranked. ``EXISTS``, not ``IN``: PostgreSQL checks ``IN`` with a hash only while its guess of
    how many ids repeat fits work_mem, and past that reads them all again for every batch.
    """
    return f"""repeated AS (
        SELECT {request_id.shown} AS request_id FROM ledger_predictions
        WHERE {in_range}
        GROUP BY {request_id.stored} HAVING count(*) > 1),
    predictions AS (
        SELECT {PREDICTION_COLUMNS} FROM ledger_prediction_rows recorded
        WHERE {in_range} AND NOT EXISTS (SELECT 1 FROM repeated WHERE repeated.request_id = recorded.request_id)
        UNION ALL
        SELECT {PREDICTION_COLUMNS} FROM (
            SELECT {PREDICTION_COLUMNS},
                   row_number() OVER (PARTITION BY request_id, row ORDER BY {NEWEST_FIRST}) AS newest
            FROM ledger_prediction_rows recorded
            WHERE {in_range} AND EXISTS (SELECT 1 FROM repeated WHERE repeated.request_id = recorded.request_id)
        ) AS ranked
        WHERE newest = 1)"""


def performance_sql(request_id: RequestIdColumns, prediction: PredictionFilter) -> str:
    # The predictions are counted by version, car, class and label first, so that the answers
    # are joined to those few groups, not to every prediction: SQLite would otherwise scan its
    # batches once per car. Brier score of one row: sum over classes of
    # (p - [class is the label])^2 = sum of p^2 - 2 p(label) + 1. PostgreSQL sums counts as numeric: cast back.
    return f"""
    WITH latest AS ({LATEST_LABELS}),
    {predictions(request_id, prediction.in_range)},
    counted AS (
        SELECT p.version_id, p.position, p.class, l.label, count(*) AS n
        FROM predictions p
        JOIN ledger_versions v ON v.id = p.version_id
        JOIN ledger_routes r ON r.id = p.route_id
        LEFT JOIN latest l ON l.request_id = p.request_id AND l.row = p.row
        WHERE {prediction.where}
        GROUP BY p.version_id, p.position, p.class, l.label),
    squares AS (
        SELECT version_id, position, sum(probability * probability) AS sum_sq
        FROM ledger_answers GROUP BY version_id, position)
    SELECT v.name, c.label, c.class, CAST(sum(c.n) AS bigint) AS n,
           sum(c.n * chosen.probability) AS chosen_probability,
           sum(CASE WHEN c.label IS NULL THEN 0.0 ELSE c.n * (s.sum_sq - 2 * truth.probability + 1) END) AS brier
    FROM counted c
    JOIN ledger_versions v ON v.id = c.version_id
    JOIN ledger_answers chosen
      ON chosen.version_id = c.version_id AND chosen.position = c.position AND chosen.class = c.class
    JOIN squares s ON s.version_id = c.version_id AND s.position = c.position
    LEFT JOIN ledger_answers truth
      ON truth.version_id = c.version_id AND truth.position = c.position AND truth.class = c.label
    GROUP BY v.name, c.label, c.class"""


@dataclass
class VersionTally:
    predictions: int = 0
    chosen_probability: float = 0.0
    brier: float = 0.0

    def __post_init__(self) -> None:
        self.confusion = [[0] * len(CLASSES) for _ in CLASSES]


def summarise(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Per model version, from the rows of ``performance_sql``."""
    tallies: dict[str, VersionTally] = {}
    for version, label, predicted, count, chosen_probability, brier in rows:
        tally = tallies.setdefault(version, VersionTally())
        tally.predictions += count
        tally.chosen_probability += chosen_probability
        tally.brier += brier
        if label is not None:
            tally.confusion[label][predicted] += count
    return [_version(version, tallies[version]) for version in sorted(tallies)]


def _version(version: str, tally: VersionTally) -> dict[str, Any]:
    confusion = tally.confusion
    labelled = sum(map(sum, confusion))
    correct = sum(confusion[index][index] for index in range(len(CLASSES)))
    return {
        "model_version": version,
        "predictions": tally.predictions,
        "labelled": labelled,
        "accuracy": correct / labelled if labelled else None,
        "estimated_accuracy": tally.chosen_probability / tally.predictions,
        "brier": tally.brier / labelled if labelled else None,
        "labels": list(CLASSES),
        "confusion_matrix": confusion,
        "per_class": {label: _class_scores(confusion, index) for index, label in enumerate(CLASSES)},
    }


def _class_scores(confusion: list[list[int]], index: int) -> dict[str, float | int]:
    """scikit-learn's precision, recall and F1 of one class, 0.0 where undefined (zero_division=0)."""
    true_positives = confusion[index][index]
    support = sum(confusion[index])
    predicted = sum(row[index] for row in confusion)
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / support if support else 0.0
    f1 = 2 * true_positives / (support + predicted) if support + predicted else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}
