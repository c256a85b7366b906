"""The rows of a JSON body ``{"inputs": [...]}``, as ``/predict`` and ``/explain`` take it.

The body is parsed with orjson and handed to the model package as plain dicts: it checks
every value by lookup (``car_evaluation_model.domain``), so a valid request builds no pydantic
object and no DataFrame per row. Only an invalid request pays for the detailed errors.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from loguru import logger
from pydantic import BaseModel

from app.api.request_body import read_body
from app.config import Settings
from app.errors import JSON_MEDIA_TYPE, ApiError
from app.request_state import header
from app.schemas.errors import ErrorResponse
from app.schemas.predict import PredictRequest
from car_evaluation_model.processing.validation import echo


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """What the OpenAPI schema says of a route that reads a JSON body of ``model`` itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


REQUEST_BODY = json_body(PredictRequest)  # the routes that take the rows
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body cannot be decoded (bad gzip or deflate data)."},
    413: {"model": ErrorResponse, "description": "The body, sent or decoded, is larger than the limit."},
    415: {"model": ErrorResponse, "description": "The body is not JSON, or its Content-Encoding is unknown."},
    422: {"model": ErrorResponse, "description": "Invalid rows: each error names the row, field and allowed values."},
    503: {"model": ErrorResponse, "description": "The model cannot be loaded."},
}


def answered_by(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The answers of a route that builds its body itself: ``model`` documents the 200, not checks it."""
    return {200: {"model": model, "description": "Successful Response"}, **ERROR_RESPONSES}


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (media_type.startswith("application/") and media_type.endswith("+json"))


def invalid_json(reason: str) -> ApiError:
    """The 422 of a body that is not JSON: ``reason`` is the parser's."""
    return ApiError.single(422, ["body"], f"body is not valid JSON: {reason}", "json_invalid")


def _parse_inputs(payload: Any, max_rows: int) -> list[Any]:
    """The ``inputs`` list of the body, or an ApiError naming what is wrong with it."""
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


def unsupported_media_type(content_type: str | None, wanted: str) -> ApiError:
    """The 415 of a body sent as ``content_type``: ``wanted`` says how to send it."""
    return ApiError.single(
        415,
        ["header", "content-type"],
        f"send the body as {wanted}",
        "unsupported_media_type",
        input=echo(content_type),
    )


async def read_json(request: Request, settings: Settings) -> Any:
    """The JSON body, within the body limit (decoded as its Content-Encoding says); else an ``ApiError``."""
    content_type = header(request.scope, b"content-type")
    if not _is_json(content_type):
        raise unsupported_media_type(content_type, JSON_MEDIA_TYPE)
    body = await read_body(request, settings.MAX_REQUEST_BODY_BYTES)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise invalid_json(str(error)) from None


async def read_inputs(request: Request, settings: Settings) -> list[Any]:
    """The ``inputs`` list of a JSON body, within the body and row limits; else an ``ApiError``."""
    inputs = _parse_inputs(await read_json(request, settings), settings.MAX_ROWS_PER_REQUEST)
    logger.debug("inputs {}", inputs)
    return inputs
