"""POST /explain: why each row gets its class, and the single changes that would flip it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response

from app.api.deps import MetricsDep, SettingsDep
from app.api.inputs import ERROR_RESPONSES, REQUEST_BODY, read_inputs
from app.api.prediction import refused, run_model
from app.api.routing import DirectRoute, RouterWithHead
from app.errors import JSON_MEDIA_TYPE
from app.request_state import access_log_fields
from app.schemas.explain import ExplainResponse
from car_evaluation_model import ExplanationResult, explain

router = RouterWithHead(tags=["explanation"], route_class=DirectRoute)

# An explanation costs about 10 us a row (bench/): up to this many rows run on the event loop.
INLINE_ROWS = 100


def _explain(inputs: list[Any]) -> ExplanationResult:
    return explain(input_data=inputs)


@router.post("/explain", response_model=ExplainResponse, responses=ERROR_RESPONSES, openapi_extra=REQUEST_BODY)
async def explain_rows(request: Request, settings: SettingsDep, metrics: MetricsDep) -> Response:
    """Explain each row's prediction exactly, with the same body and errors as `/predict`.

    Per row and class: the exact Shapley values of the predicted probability over the six
    features (interventional, with the training data as background), which add up with the
    base value to the probability; and every single-feature change that flips the predicted
    class, with the new class and its probability.
    """
    inputs = await read_inputs(request, settings)
    result = await run_model(_explain, inputs, inline_rows=INLINE_ROWS)
    if result["errors"]:
        raise refused(request, metrics, len(inputs), result["errors"])
    explanations = result["explanations"] or []
    access_log_fields(request.scope).update(rows=len(explanations), model_version=result["version"])
    body = {"explanations": explanations, "version": result["version"]}
    return Response(orjson.dumps(body), media_type=JSON_MEDIA_TYPE)
