"""The service's router, which answers HEAD wherever GET is, and a lean route for hot endpoints.

Everything here is in the routing table, so root paths, exception handlers, middleware and
the OpenAPI schema treat these routes like any other.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response


class Router(APIRouter):
    """An ``APIRouter`` that answers HEAD wherever it answers GET (RFC 9110, 9.3.2).

    Starlette's plain ``Route`` does this; FastAPI's ``APIRoute`` does not. The HEAD route is
    a second entry for the same endpoint, left out of the OpenAPI schema.
    """

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        if "GET" in (kwargs.get("methods") or ()):
            head = {**kwargs, "methods": ["HEAD"], "include_in_schema": False, "operation_id": None}
            super().add_api_route(path, endpoint, **head)


class LeanRoute(APIRoute):
    """A route whose endpoint takes the ``Request``, ``str`` path parameters and dependencies
    of the request alone.

    FastAPI's request handler (parameter parsing, the dependency solver, response
    validation) is most of the cost of a one-row prediction (bench/). For an endpoint of
    this shape, which reads its body itself and returns a ``Response``, this route calls the
    dependencies and the endpoint directly. As soon as the app has any dependency override,
    it hands the request to FastAPI's own handler, so overrides apply exactly as FastAPI
    defines them.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        fastapi_handler = super().get_route_handler()
        endpoint = self.endpoint
        request_name = self.dependant.request_param_name
        dependencies: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = []
        for dependency in self.dependant.dependencies:
            if (
                dependency.name is None
                or dependency.call is None
                or not inspect.iscoroutinefunction(dependency.call)
                or dependency.dependencies
                or dependency.request_param_name is None
                or len(inspect.signature(dependency.call).parameters) != 1
            ):
                raise TypeError(f"{self.path}: LeanRoute takes dependencies of the form `async def f(request)`")
            dependencies.append((dependency.name, dependency.call))
        if request_name is None or self.dependant.query_params or self.dependant.body_params:
            raise TypeError(f"{self.path}: LeanRoute endpoints take the Request and read the body themselves")
        path_names = [parameter.name for parameter in self.dependant.path_params]
        if any(parameter.field_info.annotation is not str for parameter in self.dependant.path_params):
            raise TypeError(f"{self.path}: LeanRoute path parameters are strings, taken as they come")

        async def handler(request: Request) -> Response:
            if request.app.dependency_overrides:
                return await fastapi_handler(request)
            arguments: dict[str, Any] = {request_name: request}
            for name in path_names:
                arguments[name] = request.path_params[name]
            for name, call in dependencies:
                arguments[name] = await call(request)
            response: Response = await endpoint(**arguments)
            return response

        return handler
