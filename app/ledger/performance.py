"""Live performance per model version, from counts the database aggregates.

The database groups the predictions by model version, latest true label and predicted class,
with the sums the estimates need; the rest (accuracy, per-class precision, recall and F1) is
arithmetic on that confusion matrix. The latest label of a row is the last one to arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.ledger.cars import CLASSES

LATEST_LABELS = """
    SELECT request_id, row, label, time FROM (
        SELECT request_id, row, label, time,
               row_number() OVER (PARTITION BY request_id, row ORDER BY id DESC) AS newest
        FROM ledger_labels) AS ranked
    WHERE newest = 1"""


def prediction_filter(
    model_version: str | None, route: str | None, since: Any, until: Any
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause over ``ledger_prediction_rows p`` joined with versions ``v`` and routes ``r``."""
    conditions, parameters = ["TRUE"], {}
    for column, name, value in (
        ("v.name", "model_version", model_version),
        ("r.name", "route", route),
    ):
        if value is not None:
            conditions.append(f"{column} = :{name}")
            parameters[name] = value
    if since is not None:
        conditions.append("p.time >= :since")
        parameters["since"] = since
    if until is not None:
        conditions.append("p.time < :until")
        parameters["until"] = until
    return " AND ".join(conditions), parameters


def performance_sql(where: str) -> str:
    # The predictions are counted by version, car, class and label first, so that the answers
    # are joined to those few groups, not to every prediction: SQLite would otherwise scan its
    # batches once per car. Brier score of one row: sum over classes of
    # (p - [class is the label])^2 = sum of p^2 - 2 p(label) + 1. PostgreSQL sums counts as numeric: cast back.
    return f"""
    WITH latest AS ({LATEST_LABELS}),
    counted AS (
        SELECT p.version_id, p.position, p.class, l.label, count(*) AS n
        FROM ledger_prediction_rows p
        JOIN ledger_versions v ON v.id = p.version_id
        JOIN ledger_routes r ON r.id = p.route_id
        LEFT JOIN latest l ON l.request_id = p.request_id AND l.row = p.row
        WHERE {where}
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
