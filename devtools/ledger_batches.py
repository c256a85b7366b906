"""Batches as the service records them, from the model package's real answers (tests and bench)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from app.ledger import RecordedBatch
from app.ledger.cars import CLASSES, cars_at
from car_evaluation_model import make_prediction

ROUTE = "/api/v1/predict"


def answered(
    request_id: str,
    positions: Sequence[int],
    *,
    rows: Sequence[int] | None = None,
    version: str | None = None,
    route: str = ROUTE,
    v2_id: str | None = None,
    at: float | None = None,
) -> RecordedBatch:
    """The batch the service would record for the cars at ``positions``, predicted by the model package."""
    columns = cars_at(positions)
    cars = list(zip(*columns.values(), strict=True))
    result = make_prediction(input_data=[dict(zip(columns, car, strict=True)) for car in cars])
    return RecordedBatch(
        request_id=request_id,
        v2_id=v2_id,
        route=route,
        model_version=version or result["version"],
        time=time.time() if at is None else at,
        classes=CLASSES,
        rows=list(range(len(positions))) if rows is None else rows,
        cars=cars,
        predictions=result["predictions"] or [],
        probabilities=[list(row.values()) for row in result["probabilities"] or []],
    )
