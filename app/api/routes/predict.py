"""POST /predict: classify rows with the embedded model package."""

from __future__ import annotations

import orjson
from fastapi import Request, Response

from app.api.deps import data_plane_of, settings_of
from app.api.inputs import REQUEST_BODY, answered_by, read_inputs
from app.api.prediction import call_of, rows_refused
from app.api.routing import RouterWithHead
from app.data_plane import Refusal
from app.errors import JSON_MEDIA_TYPE
from app.schemas.predict import PredictResponse

router = RouterWithHead(tags=["prediction"])


@router.post("/predict", responses=answered_by(PredictResponse), openapi_extra=REQUEST_BODY)
async def predict_rows(request: Request) -> Response:
    """Classify each row as unacc, acc, good or vgood, with the probability of every class.

    All rows are valid and answered, or none is: any invalid row gives a 422 listing the
    problems. The body is `PredictRequest`; `doors` and `persons` also accept integers.
    """
    data_plane = data_plane_of(request)
    inputs = await read_inputs(request, settings_of(request))
    outcome = await data_plane.predict(call_of(request, "predict", "v1"), inputs)
    if isinstance(outcome, Refusal):
        raise rows_refused(outcome.errors)
    answer = {
        "predictions": outcome.labels,
        "probabilities": outcome.probabilities,
        "version": outcome.version,
        "errors": None,
    }
    return Response(orjson.dumps(answer), media_type=JSON_MEDIA_TYPE)
