"""The service's router, which answers HEAD wherever GET is, and the route class of the Open Inference Protocol.

Both use FastAPI's documented extension points: ``APIRouter`` subclassed (its
``add_api_route``) and a route class (``route_class=``). Every route is handled by FastAPI's
own handler, so every dependency that applies to a route (its signature's, its router's, an
``include_router(dependencies=...)`` at any depth, the app's) is honoured, as FastAPI defines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from fastapi import APIRouter
from fastapi.routing import APIRoute

from app.errors import DETAIL, INFERENCE_PROTOCOL, ErrorShape


class RouterWithHead(APIRouter):
    """An ``APIRouter`` that answers HEAD wherever it answers GET (RFC 9110, 9.3.2).

    Starlette's plain ``Route`` does this; FastAPI's ``APIRoute`` does not. The HEAD route is
    a second entry for the same endpoint, left out of the OpenAPI schema.
    """

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        if "GET" in (kwargs.get("methods") or ()):
            head = {**kwargs, "methods": ["HEAD"], "include_in_schema": False, "operation_id": None}
            super().add_api_route(path, endpoint, **head)


class InferenceProtocolRoute(APIRoute):
    """A route of the Open Inference Protocol: its errors are answered in that protocol's shape."""

    error_shape: ClassVar[ErrorShape] = INFERENCE_PROTOCOL


def error_shape_of(router: APIRouter) -> ErrorShape:
    """The shape of the errors of a router's routes (``app.errors``)."""
    shape: ErrorShape = getattr(router.route_class, "error_shape", DETAIL)
    return shape
