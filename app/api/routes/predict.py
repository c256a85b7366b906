"""POST /predict: classify rows with the embedded model package."""

from __future__ import annotations

import orjson
from fastapi import Request, Response

from app.api.deps import MetricsDep, SettingsDep
from app.api.inputs import ERROR_RESPONSES, REQUEST_BODY, read_inputs
from app.api.prediction import predict
from app.api.routing import DirectRoute, RouterWithHead
from app.errors import JSON_MEDIA_TYPE
from app.schemas.predict import PredictResponse

router = RouterWithHead(tags=["prediction"], route_class=DirectRoute)


@router.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES, openapi_extra=REQUEST_BODY)
async def predict_rows(request: Request, settings: SettingsDep, metrics: MetricsDep) -> Response:
    """Classify each row as unacc, acc, good or vgood, with the probability of every class.

    All rows are valid and answered, or none is: any invalid row gives a 422 listing the
    problems. The body is `PredictRequest`; `doors` and `persons` also accept integers.
    """
    inputs = await read_inputs(request, settings)
    result = await predict(request, metrics, inputs, api="v1")
    answer = {
        "predictions": result["predictions"],
        "probabilities": result["probabilities"],
        "version": result["version"],
        "errors": None,
    }
    return Response(orjson.dumps(answer), media_type=JSON_MEDIA_TYPE)
