"""The service's router, which answers HEAD wherever GET is, a lean route for hot endpoints,
and the copy of a router's routes into the app's own routing table.

Everything here is in the routing table, so root paths, exception handlers, middleware and
the OpenAPI schema treat these routes like any other.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


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

    FastAPI's request handling (parameter parsing, the dependency solver, response
    validation, two exit stacks and a second exception wrapper per request) is most of the
    cost of a one-row prediction (bench/). For an endpoint of this shape, which reads its
    body itself and returns a ``Response``, this route calls the dependencies and the
    endpoint directly; an exception goes to the app's exception handlers as from any route
    (Starlette's ``ExceptionMiddleware`` applies the same handlers). As soon as the app has
    any dependency override, the request goes through FastAPI's own handling, so overrides
    apply exactly as FastAPI defines them.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        call = self._direct_call()
        fastapi_app = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["app"].dependency_overrides:
                await fastapi_app(scope, receive, send)
                return
            response = await call(Request(scope, receive, send))
            await response(scope, receive, send)

        self.app = app

    def _direct_call(self) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint with its arguments found without FastAPI; ``TypeError`` for any other shape."""
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
        if self.max_body_size is not None:
            raise TypeError(f"{self.path}: LeanRoute endpoints limit the body they read themselves (request_body.py)")
        path_names = [parameter.name for parameter in self.dependant.path_params]
        if any(parameter.field_info.annotation is not str for parameter in self.dependant.path_params):
            raise TypeError(f"{self.path}: LeanRoute path parameters are strings, taken as they come")

        async def call(request: Request) -> Response:
            arguments: dict[str, Any] = {request_name: request}
            for name in path_names:
                arguments[name] = request.path_params[name]
            for name, dependency in dependencies:
                arguments[name] = await dependency(request)
            response: Response = await endpoint(**arguments)
            return response

        return call


def add_routes(app: FastAPI, router: APIRouter, prefix: str = "") -> None:
    """What ``app.include_router(router, prefix=prefix)`` adds, as routes of the app's own table.

    FastAPI 0.165 keeps an included router as a node of the table, which it matches twice on
    every request (to choose it, then to handle the request): a tenth of a one-row
    prediction, a sixth of a v2 one (bench/). Each route is added again, under ``prefix``,
    with its class and everything it was declared with, as FastAPI's ``include_router`` did
    before it kept the nodes; the app then matches it once, like a route declared on the app.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only APIRoutes are copied; include or mount other routes")
        app.router.add_api_route(
            prefix + route.path,
            route.endpoint,
            route_class_override=type(route),
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
            strict_content_type=route.strict_content_type,
            max_body_size=route.max_body_size,
            form_limits=route.form_limits,
        )
