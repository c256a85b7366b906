"""The rows of a JSON body ``{"inputs": [...]}``, and running the model package over them.

``/predict`` and ``/explain`` take the same body, with the same validation and errors: this
module is that shared part. The body is parsed with orjson and handed to the model package
as plain dicts: it validates every value by lookup, so a valid request builds no pydantic
object and no DataFrame per row. Only an invalid request pays for the detailed errors, at
most ``MAX_LISTED_ERRORS`` of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from loguru import logger

from app.api.errors import JSON_MEDIA_TYPE, ApiError, model_unavailable
from app.api.request_body import header, read_body
from app.config import Settings
from app.metrics import Metrics
from app.request_state import access_log_fields
from app.schemas.errors import ErrorResponse
from car_evaluation_model import ModelArtifactError, RowError
from car_evaluation_model.processing.validation import echo

Inputs = TypeVar("Inputs", bound=Sized)
Result = TypeVar("Result")

# What the OpenAPI schema says of a route that takes the rows (PredictRequest).
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    }
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body cannot be decoded (bad gzip or deflate data)."},
    413: {"model": ErrorResponse, "description": "The body, sent or decoded, is larger than the limit."},
    415: {"model": ErrorResponse, "description": "The body is not JSON, or its Content-Encoding is unknown."},
    422: {"model": ErrorResponse, "description": "Invalid rows: each error names the row, field and allowed values."},
    503: {"model": ErrorResponse, "description": "The model cannot be loaded."},
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


async def read_inputs(request: Request, settings: Settings) -> list[Any]:
    """The ``inputs`` list of a JSON body, within the body and row limits; else an ``ApiError``."""
    content_type = header(request.scope, b"content-type")
    if not _is_json(content_type):
        raise ApiError.single(
            415,
            ["header", "content-type"],
            f"send the body as {JSON_MEDIA_TYPE}",
            "unsupported_media_type",
            input=echo(content_type),
        )
    body = await read_body(request, settings.MAX_REQUEST_BODY_BYTES)
    inputs = _parse_inputs(body, settings.MAX_ROWS_PER_REQUEST)
    logger.debug("inputs {}", inputs)
    return inputs


async def run_model(compute: Callable[[Inputs], Result], inputs: Inputs, *, inline_rows: int) -> Result:
    """``compute(inputs)``, on the event loop up to ``inline_rows`` rows, else in the thread pool.

    Small batches cost well under a millisecond and are not worth a thread hop; larger ones
    must not stall other requests for longer. A model that cannot be loaded is a 503.
    """
    try:
        if len(inputs) <= inline_rows:
            return compute(inputs)
        return await run_in_threadpool(compute, inputs)
    except ModelArtifactError as error:
        raise model_unavailable(error) from error


def invalid_rows(request: Request, metrics: Metrics, inputs: list[Any], errors: list[RowError]) -> ApiError:
    """The 422 for rows the model package refused, counted in the metrics and the access line."""
    access_log_fields(request.scope).update(rows=len(inputs), errors=len(errors))
    metrics.rejected_rows(errors)
    return ApiError(422, [_row_error_detail(error) for error in errors])


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
