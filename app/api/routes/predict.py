"""POST /predict: classify rows with the embedded model package."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from fastapi import Request, Response

from app.api.deps import MetricsDep, SettingsDep
from app.api.errors import JSON_MEDIA_TYPE
from app.api.inputs import ERROR_RESPONSES, REQUEST_BODY, invalid_rows, read_inputs, run_model
from app.api.routing import LeanRoute, Router
from app.request_state import access_log_fields
from app.schemas.predict import PredictResponse
from car_evaluation_model import PredictionResult, make_prediction

router = Router(tags=["prediction"], route_class=LeanRoute)

# Up to this many rows the whole answer (parse, look up, serialise, or list the first errors)
# costs about a millisecond of CPU (bench/) and runs on the event loop.
INLINE_ROWS = 1000


def _predict(inputs: list[Any]) -> PredictionResult:
    return make_prediction(input_data=inputs, count_inputs=True)


@router.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES, openapi_extra=REQUEST_BODY)
async def predict(request: Request, settings: SettingsDep, metrics: MetricsDep) -> Response:
    """Classify each row as unacc, acc, good or vgood, with the probability of every class.

    All rows are valid and answered, or none is: any invalid row gives a 422 listing the
    problems. The body is `PredictRequest`; `doors` and `persons` also accept integers.
    """
    inputs = await read_inputs(request, settings)
    result = await run_model(_predict, inputs, inline_rows=INLINE_ROWS)
    if result["errors"]:
        raise invalid_rows(request, metrics, inputs, result["errors"])
    predictions, version = result["predictions"] or [], result["version"]
    classes = dict(Counter(predictions))
    metrics.predicted("v1", version, classes, result["input_counts"])
    access_log_fields(request.scope).update(rows=len(predictions), model_version=version, classes=classes)
    answer = {"predictions": predictions, "probabilities": result["probabilities"], "version": version, "errors": None}
    return Response(orjson.dumps(answer), media_type=JSON_MEDIA_TYPE)
