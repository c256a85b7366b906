"""Running the model for a route, and what every answered or refused batch of rows records.

``/api/v1/predict``, ``/api/v1/explain`` and v2's infer share this: small batches run on the
event loop, larger ones in the thread pool; a model that cannot load is a 503; refused rows
are counted in the metrics and the access line and answered with the model package's
problems (``app.errors`` words them for each API shape); answered rows are counted by class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sized
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from app.errors import UNPROCESSABLE, ApiError, model_unavailable
from app.metrics import Metrics
from app.request_state import access_log_fields
from car_evaluation_model import Columns, ModelArtifactError, PredictionResult, RowError, make_prediction

Inputs = TypeVar("Inputs", bound=Sized)
Result = TypeVar("Result")

# Up to this many rows a prediction (parse, look up, serialise, or list the first errors)
# costs about a millisecond of CPU (bench/) and runs on the event loop.
PREDICT_INLINE_ROWS = 1000


async def run_model(compute: Callable[[Inputs], Result], inputs: Inputs, *, inline_rows: int) -> Result:
    """``compute(inputs)``, on the event loop up to ``inline_rows`` rows, else in the thread pool."""
    try:
        if len(inputs) <= inline_rows:
            return compute(inputs)
        return await run_in_threadpool(compute, inputs)
    except ModelArtifactError as error:
        raise model_unavailable(error) from error


def refused(request: Request, metrics: Metrics, rows: int, errors: list[RowError]) -> ApiError:
    """The error for rows the model package refused, counted in the metrics and the access line."""
    access_log_fields(request.scope).update(rows=rows, errors=len(errors))
    metrics.rejected_rows(errors)
    return ApiError(UNPROCESSABLE, [_row_error_detail(error) for error in errors])


def _row_error_detail(error: RowError) -> dict[str, Any]:
    loc: list[str | int] = ["body", "inputs"]
    if error["row"] is not None:
        loc.append(error["row"])
    if error["field"] is not None:
        loc.append(error["field"])
    return {
        "loc": loc,
        "msg": f"row {error['row']}: {error['message']}" if error["row"] is not None else error["message"],
        "type": error["type"],
        "row": error["row"],
        "field": error["field"],
        "input": error["value"],
        "allowed": error["allowed"],
    }


def _predict(inputs: list[Any] | Columns) -> PredictionResult:
    return make_prediction(input_data=inputs, keep_rows=True)


async def predict(request: Request, metrics: Metrics, inputs: list[Any] | Columns, *, api: str) -> PredictionResult:
    """Every row's prediction, recorded for ``api`` ("v1", "v2"); the refusal ``ApiError`` otherwise."""
    result = await run_model(_predict, inputs, inline_rows=PREDICT_INLINE_ROWS)
    if result["errors"]:
        raise refused(request, metrics, len(inputs), result["errors"])
    predictions, version = result["predictions"] or [], result["version"]
    classes = dict(Counter(predictions))
    metrics.predicted(api, version, classes, result["input_rows"])
    access_log_fields(request.scope).update(rows=len(predictions), model_version=version, classes=classes)
    return result
