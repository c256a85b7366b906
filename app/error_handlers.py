"""Every error raised inside the app, whoever raises it, answered through ``app.errors``.

``ApiError`` as it is; Starlette's own answers (404 for an unknown path, 405 with its
``Allow`` header) and FastAPI's validation of parameters as ``ApiError``s; a client that went
away before its request was read as nginx's 499, for the access line alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.errors import UNPROCESSABLE, ApiError, error_response
from app.request_state import access_log_fields
from car_evaluation_model.processing.validation import MAX_LISTED_ERRORS, echo

# nginx's code for "client closed the request": logged, never seen by a client.
CLIENT_CLOSED_REQUEST = 499


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error_response(error, request.scope)


async def _http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    details = [{"loc": ["path"], "msg": str(error.detail), "type": kind}]
    return error_response(ApiError(error.status_code, details, error.headers), request.scope)


async def _request_validation(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    details = [_detail(problem) for problem in error.errors()[:MAX_LISTED_ERRORS]]
    return error_response(ApiError(UNPROCESSABLE, details), request.scope)


def _detail(problem: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "loc": list(problem["loc"]),
        "msg": problem["msg"],
        "type": problem["type"],
        "input": echo(problem.get("input")),
    }


async def _client_disconnect(request: Request, _: Exception) -> Response:
    # Nobody will read this answer: it only gives the access line its status and its reason.
    access_log_fields(request.scope)["note"] = "client went away before its request was read"
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
