"""Batches as the service records them, of the shipped model's answers (tests and bench)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from app.ledger import RecordedBatch
from app.ledger.batch import trained_answers
from car_evaluation_model import __version__

ROUTE = "/api/v1/predict"


def answered(
    request_id: str,
    positions: Sequence[int],
    *,
    rows: Sequence[int] | None = None,
    version: str = __version__,
    route: str = ROUTE,
    v2_id: str | None = None,
    at: float | None = None,
) -> RecordedBatch:
    """The batch the service would record for the cars at ``positions``."""
    return RecordedBatch(
        request_id=request_id,
        v2_id=v2_id,
        route=route,
        model_version=version,
        time=time.time() if at is None else at,
        rows=range(len(positions)) if rows is None else rows,  # as the service numbers a request's rows
        positions=positions,
        answers=trained_answers(),
    )
