"""The service's one error type, ``ApiError``, and the one place it is rendered.

Routes, the data plane, the Open Inference Protocol layer, the request-body reader, the
middleware and the server protocol all raise or build an ``ApiError``: a status and a list of
problems (``app.schemas.errors.ErrorDetail``'s shape). ``render`` turns it into a body in the
shape of the API that owns the route:

- ``DETAIL``: ``{"detail": [...]}``, FastAPI's shape, for ``/api/v1`` and everything else;
- ``INFERENCE_PROTOCOL``: the Open Inference Protocol's ``{"error": "..."}`` (tritonclient fails
  on any other), the messages joined, and a refused request is a 400 as the protocol has it.

A route's shape is its route class's ``error_shape`` (``app.api.routing``): the router that
owns a route decides. A path that matches no route takes the shape of the router whose
prefix it falls under (``ErrorShapes``), else ``DETAIL``.

This module is light on purpose: the server's protocol imports it, before any app exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import orjson
from starlette.responses import Response
from starlette.types import Scope

from app.request_state import request_id_of

JSON_MEDIA_TYPE: Final = "application/json"
UNPROCESSABLE: Final = 422
BAD_REQUEST: Final = 400

# One problem of an error answer, as a dict: the shape of ``app.schemas.errors.ErrorDetail``.
ErrorDetailDict = dict[str, Any]


class ApiError(Exception):
    """An error answer: a status, a list of problems, and headers to send with it."""

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

    @property
    def message(self) -> str:
        """Every problem's message, in one line."""
        return "; ".join(detail["msg"] for detail in self.details)


class ErrorShape(Protocol):
    """How one API words its errors."""

    def render(self, error: ApiError) -> tuple[int, bytes]:
        """The status and the body of ``error`` in this shape."""


class DetailShape:
    """FastAPI's ``{"detail": [...]}``, with the problems as they are."""

    def render(self, error: ApiError) -> tuple[int, bytes]:
        return error.status_code, orjson.dumps({"detail": error.details})


class InferenceProtocolShape:
    """The Open Inference Protocol's ``{"error": "..."}``; a refused request is its 400."""

    def render(self, error: ApiError) -> tuple[int, bytes]:
        status = BAD_REQUEST if error.status_code == UNPROCESSABLE else error.status_code
        return status, orjson.dumps({"error": error.message})


DETAIL: Final[ErrorShape] = DetailShape()
INFERENCE_PROTOCOL: Final[ErrorShape] = InferenceProtocolShape()


@dataclass
class ErrorShapes:
    """The shape of each router's errors for paths no route matched, by the router's prefix."""

    prefixes: dict[str, ErrorShape] = field(default_factory=dict)

    def add(self, prefix: str, shape: ErrorShape) -> None:
        if shape is not DETAIL:
            self.prefixes[prefix] = shape

    def unmatched(self, path: str) -> ErrorShape:
        for prefix, shape in self.prefixes.items():
            if path == prefix or path.startswith(f"{prefix}/"):
                return shape
        return DETAIL


def shape_of(scope: Scope) -> ErrorShape:
    """The error shape of the route that ``scope`` was routed to, or of the router its path falls under."""
    route = scope.get("route")
    if route is not None:
        shape: ErrorShape = getattr(route, "error_shape", DETAIL)
        return shape
    app = scope.get("app")
    shapes: ErrorShapes | None = getattr(getattr(app, "state", None), "error_shapes", None)
    if shapes is None:
        return DETAIL
    return shapes.unmatched(scope["path"].removeprefix(scope.get("root_path", "")))


def render(error: ApiError, shape: ErrorShape = DETAIL) -> Response:
    status, body = shape.render(error)
    return Response(body, status_code=status, headers=error.headers, media_type=JSON_MEDIA_TYPE)


def error_response(error: ApiError, scope: Scope) -> Response:
    """The answer to a request for ``error``, in the shape of the API the request went to."""
    return render(error, shape_of(scope))


def internal_error(scope: Scope) -> ApiError:
    """500: says only that something failed and which request, for the logs; never why."""
    request_id = request_id_of(scope)
    message = f"internal error; the service logged it with request id {request_id}"
    return ApiError.single(500, [], message, "internal_error", input=request_id)


def shutting_down() -> ApiError:
    """503 for a request still unfinished when the server's graceful-shutdown timeout ends."""
    message = "the service stopped before this request was complete; send it again"
    return ApiError(503, [{"loc": [], "msg": message, "type": "shutting_down"}], {"Connection": "close"})
