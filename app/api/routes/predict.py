"""POST /predict: classify rows with the embedded model package.

The body is parsed with orjson and handed to ``make_prediction`` as plain dicts: the model
package validates every value by lookup, so a valid request builds no pydantic object and
no DataFrame per row. Only an invalid request pays for the detailed errors, at most
``MAX_LISTED_ERRORS`` of them. The OpenAPI schema still documents the body with
``PredictRequest`` (enums for every field).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from loguru import logger

from app.api.deps import SettingsDep
from app.api.errors import JSON_MEDIA_TYPE, ApiError, model_unavailable
from app.api.request_body import read_body
from app.api.routing import LeanRoute, Router
from app.request_state import access_log_fields
from app.schemas.errors import ErrorResponse
from app.schemas.predict import PredictResponse
from car_evaluation_model import ModelArtifactError, RowError, make_prediction
from car_evaluation_model.processing.validation import echo

router = Router(tags=["prediction"], route_class=LeanRoute)

# Up to this many rows the whole answer (parse, look up, serialise, or list the first errors)
# costs about a millisecond of CPU (bench/) and runs on the event loop; larger batches go to
# the thread pool so that they never stall other requests for longer.
INLINE_ROWS = 1000


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


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (media_type.startswith("application/") and media_type.endswith("+json"))


def _parse_inputs(body: bytes, max_rows: int) -> list[Any]:
    """The ``inputs`` list of the body, or an ApiError naming what is wrong with it."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError.single(422, ["body"], f"body is not valid JSON: {error}", "json_invalid") from None
    if not isinstance(payload, dict):
        raise ApiError.single(422, ["body"], 'body must be a JSON object: {"inputs": [...]}', "body_not_object")
    unknown = sorted(set(payload) - {"inputs"})
    if unknown:
        raise ApiError.single(
            422,
            ["body", unknown[0]],
            f"unknown field {unknown[0]!r}; the body has one field, inputs",
            "unknown_field",
            field=unknown[0],
            allowed=["inputs"],
        )
    inputs = payload.get("inputs")
    if not isinstance(inputs, list):
        raise ApiError.single(
            422,
            ["body", "inputs"],
            "inputs is required and must be a list of rows",
            "missing" if inputs is None else "inputs_not_list",
            field="inputs",
            input=echo(inputs),
        )
    if len(inputs) > max_rows:
        raise ApiError.single(
            422,
            ["body", "inputs"],
            f"inputs has {len(inputs)} rows; the limit is {max_rows} per request",
            "too_many_rows",
            field="inputs",
        )
    return inputs


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={
        400: {"model": ErrorResponse, "description": "The body cannot be decoded (bad gzip or deflate data)."},
        413: {"model": ErrorResponse, "description": "The body, sent or decoded, is larger than the limit."},
        415: {"model": ErrorResponse, "description": "The body is not JSON, or its Content-Encoding is unknown."},
        503: {"model": ErrorResponse, "description": "The model cannot be loaded."},
        422: {
            "model": ErrorResponse,
            "description": "Invalid rows: each error names the row, field and allowed values.",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
        }
    },
)
async def predict(request: Request, settings: SettingsDep) -> Response:
    """Classify each row as unacc, acc, good or vgood, with the probability of every class.

    All rows are valid and answered, or none is: any invalid row gives a 422 listing every
    problem. The body is `PredictRequest`; `doors` and `persons` also accept integers.
    """
    if not _is_json(request.headers.get("content-type")):
        raise ApiError.single(
            415,
            ["header", "content-type"],
            f"send the body as {JSON_MEDIA_TYPE}",
            "unsupported_media_type",
            input=echo(request.headers.get("content-type")),
        )
    body = await read_body(request, settings.MAX_REQUEST_BODY_BYTES)
    inputs = _parse_inputs(body, settings.MAX_ROWS_PER_REQUEST)
    try:
        if len(inputs) <= INLINE_ROWS:
            result = make_prediction(input_data=inputs)
        else:
            result = await run_in_threadpool(lambda: make_prediction(input_data=inputs))
    except ModelArtifactError as error:
        raise model_unavailable(error) from error
    logger.debug("inputs {}", inputs)
    if result["errors"]:
        access_log_fields(request.scope).update(rows=len(inputs), errors=len(result["errors"]))
        raise ApiError(422, [_row_error_detail(error) for error in result["errors"]])
    predictions = result["predictions"] or []
    access_log_fields(request.scope).update(
        rows=len(predictions), model_version=result["version"], classes=dict(Counter(predictions))
    )
    return Response(orjson.dumps(result), media_type=JSON_MEDIA_TYPE)
