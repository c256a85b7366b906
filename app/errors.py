"""Every error answer of the service is rendered here, whoever raises it.

Routes raise ``ApiError`` (the protocol layer of ``/v2`` raises ``ProtocolError``); FastAPI's
request validation, Starlette's 404/405, a client that went away, the request-body reader,
the middleware's 500 and 503 and the server protocol's 431 and 408 all end in
``error_response`` or ``error_body``.

The body is ``app.schemas.errors.ErrorResponse``: ``{"detail": [...]}`` with the location, a
message and, where there are some, the allowed values. Under the Open Inference Protocol's
``/v2`` the same errors take that protocol's shape, ``{"error": "..."}`` (tritonclient fails
on any other), the messages joined, and a refused request is a 400 as the protocol has it.
Every answer is small: at most ``MAX_LISTED_ERRORS`` problems are listed, and a client's
values are echoed through the model package's ``echo`` and ``shown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from app.inference_protocol import PATH_PREFIX, ProtocolError
from app.request_state import access_log_fields, request_id_of
from car_evaluation_model import ModelArtifactError
from car_evaluation_model.processing.validation import MAX_LISTED_ERRORS, echo

JSON_MEDIA_TYPE = JSONResponse.media_type
# nginx's code for "client closed the request": logged, never seen by a client.
CLIENT_CLOSED_REQUEST = 499
UNPROCESSABLE = 422
BAD_REQUEST = 400

# One problem of an error answer, as a dict: the shape of ``app.schemas.errors.ErrorDetail``.
ErrorDetailDict = dict[str, Any]


class ApiError(Exception):
    """An error answer: a status and a list of problems."""

    def __init__(
        self, status_code: int, details: list[ErrorDetailDict], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(details[0]["msg"])
        self.status_code = status_code
        self.details = details
        self.headers = headers

    @classmethod
    def single(cls, status_code: int, loc: list[str | int], msg: str, type_: str, **extra: Any) -> ApiError:
        return cls(status_code, [{"loc": loc, "msg": msg, "type": type_, **extra}])


def model_unavailable(error: ModelArtifactError) -> ApiError:
    """503: the model cannot be loaded (missing artifact, wrong scikit-learn version)."""
    return ApiError.single(503, ["model"], str(error), "model_unavailable")


def error_body(details: list[ErrorDetailDict]) -> bytes:
    return orjson.dumps({"detail": details})


def is_inference_protocol(scope: Scope) -> bool:
    path: str = scope["path"].removeprefix(scope.get("root_path", ""))
    return path == PATH_PREFIX or path.startswith(f"{PATH_PREFIX}/")


def error_response(
    status_code: int, details: list[ErrorDetailDict], headers: Mapping[str, str] | None = None, *, scope: Scope
) -> Response:
    """The answer for ``details``; in the v2 protocol's shape when ``scope`` is a request under ``/v2``."""
    if is_inference_protocol(scope):
        status_code = BAD_REQUEST if status_code == UNPROCESSABLE else status_code
        body = ProtocolError(status_code, "; ".join(detail["msg"] for detail in details)).body()
    else:
        body = error_body(details)
    return Response(body, status_code=status_code, headers=headers, media_type=JSON_MEDIA_TYPE)


def internal_error_response(scope: Scope) -> Response:
    """500: says only that something failed and which request, for the logs; never why."""
    request_id = request_id_of(scope)
    message = f"internal error; the service logged it with request id {request_id}"
    return error_response(
        500, [{"loc": [], "msg": message, "type": "internal_error", "input": request_id}], scope=scope
    )


def shutting_down_response(scope: Scope) -> Response:
    """503 for a request still unfinished when the server's graceful-shutdown timeout ends."""
    message = "the service stopped before this request was complete; send it again"
    details = [{"loc": [], "msg": message, "type": "shutting_down"}]
    return error_response(503, details, {"Connection": "close"}, scope=scope)


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error_response(error.status_code, error.details, error.headers, scope=request.scope)


async def _protocol_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, ProtocolError)
    return Response(error.body(), status_code=error.status, media_type=JSON_MEDIA_TYPE)


async def _http_exception(request: Request, error: Exception) -> Response:
    """Starlette's own answers (404 for an unknown path, 405 with its ``Allow`` header)."""
    assert isinstance(error, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    details = [{"loc": ["path"], "msg": str(error.detail), "type": kind}]
    return error_response(error.status_code, details, error.headers, scope=request.scope)


async def _request_validation(request: Request, error: Exception) -> Response:
    """FastAPI's validation of parameters and bodies."""
    assert isinstance(error, RequestValidationError)
    details = [
        {
            "loc": list(problem["loc"]),
            "msg": problem["msg"],
            "type": problem["type"],
            "input": echo(problem.get("input")),
        }
        for problem in error.errors()[:MAX_LISTED_ERRORS]
    ]
    return error_response(UNPROCESSABLE, details, scope=request.scope)


async def _client_disconnect(request: Request, _: Exception) -> Response:
    # Nobody will read this answer: it only gives the access line its status and its reason.
    access_log_fields(request.scope)["note"] = "client went away before its request was read"
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error raised inside the app to the renderers above."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ProtocolError, _protocol_error)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
