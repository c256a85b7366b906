"""The service's router, which answers HEAD wherever GET is, and the route class of the hot endpoints.

Both use FastAPI's documented extension points: ``APIRouter`` subclassed (its
``add_api_route``), and a route class whose ``get_route_handler`` returns the handler of each
request (FastAPI's "Custom Request and APIRoute class"; MLServer's REST app does the same).
Routers are included with ``include_router`` as any FastAPI user does.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import APIRouter, Request, params
from fastapi.routing import APIRoute
from starlette.responses import Response


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


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """A route whose endpoint is called directly: ``async def f(request: Request, x: XDep) -> Response``.

    FastAPI's request handling (the dependency solver, parameter and response validation, a
    second exception wrapper) is most of the cost of a one-row prediction (bench/). An
    endpoint that reads its body itself and returns a ``Response`` needs none of it: this
    route's handler passes the ``Request`` and awaits each dependency, ``Annotated[T,
    Depends(f)]`` with ``async def f(request: Request)``, itself. Everything around the
    handler (routing, ``include_router`` prefixes, middleware, exception handlers, the OpenAPI
    schema) is FastAPI's own. While the app has any dependency override, requests take FastAPI's
    own handler, so overrides apply exactly as FastAPI defines them.

    Dependencies given to ``include_router(dependencies=...)`` are not seen by the direct
    handler: give a direct endpoint its dependencies in its signature.
    """

    def get_route_handler(self) -> Handler:
        fastapi_handler = super().get_route_handler()
        direct_handler = direct_call(self.endpoint, self.path)
        if self.dependencies:
            raise TypeError(f"{self.path}: a DirectRoute takes its dependencies in the endpoint's signature")

        async def handler(request: Request) -> Response:
            if request.app.dependency_overrides:
                return await fastapi_handler(request)
            return await direct_handler(request)

        return handler


def direct_call(endpoint: Callable[..., Awaitable[Response]], path: str) -> Handler:
    """The endpoint as a handler that finds its arguments itself; ``TypeError`` for any other shape."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{path}: a DirectRoute endpoint is an async function")
    hints = get_type_hints(endpoint, include_extras=True)
    request_names: list[str] = []
    dependencies: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = []
    for name in inspect.signature(endpoint).parameters:
        hint = hints.get(name)
        dependency = _request_dependency(hint)
        if hint is Request:
            request_names.append(name)
        elif dependency is not None:
            dependencies.append((name, dependency))
        else:
            raise TypeError(
                f"{path}: a DirectRoute endpoint takes the Request and dependencies of the form "
                f"Annotated[T, Depends(f)] with `async def f(request: Request)`; not {name}: {hint}"
            )

    async def handler(request: Request) -> Response:
        arguments: dict[str, Any] = dict.fromkeys(request_names, request)
        for name, dependency in dependencies:
            arguments[name] = await dependency(request)
        return await endpoint(**arguments)

    return handler


def _request_dependency(hint: Any) -> Callable[[Request], Awaitable[Any]] | None:
    """``f`` of ``Annotated[T, Depends(f)]`` when ``f`` is ``async def f(request: Request)``."""
    if get_origin(hint) is not Annotated:
        return None
    for marker in get_args(hint)[1:]:
        if isinstance(marker, params.Depends) and marker.dependency is not None:
            dependency = marker.dependency
            parameters = list(inspect.signature(dependency).parameters)
            takes_request = len(parameters) == 1 and get_type_hints(dependency).get(parameters[0]) is Request
            return dependency if inspect.iscoroutinefunction(dependency) and takes_request else None
    return None
