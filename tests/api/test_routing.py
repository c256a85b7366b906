"""Routing fails closed: every dependency a user puts on a group of routes guards every route in it."""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.responses import Response

from app.api.main import routers
from app.config import Settings
from app.errors import ApiError
from app.main import create_app
from car_evaluation_model import __version__ as model_version
from tests.conftest import API, ARTICLE_ROW
from tests.inference_protocol.clients import ALL_CARS, triton_request

ONE_ROW = {"inputs": [ARTICLE_ROW]}
V2_BODY, _ = triton_request(ALL_CARS.head(2), binary=False)
TOKEN = secrets.token_hex(8)
CSV = "buying,maint,doors,persons,lug_boot,safety\nlow,low,4,more,big,high\n"


async def check_token(authorization: Annotated[str | None, Header()] = None) -> None:
    """A bearer-token guard, as a user of FastAPI writes one."""
    if authorization != f"Bearer {TOKEN}":
        raise ApiError.single(401, ["header", "authorization"], "a bearer token is required", "unauthorized")


def prediction_requests(client: TestClient, headers: dict[str, str]) -> list[int]:
    """One request to each route that answers with the model: their status codes."""
    return [
        client.post(f"{API}/predict", json=ONE_ROW, headers=headers).status_code,
        client.post(f"{API}/explain", json=ONE_ROW, headers=headers).status_code,
        client.post(f"{API}/predict/file", files={"file": ("cars.csv", CSV)}, headers=headers).status_code,
        client.post("/v2/models/car-evaluation/infer", content=V2_BODY, headers=headers).status_code,
        client.post(
            f"/v2/models/car-evaluation/versions/{model_version}/infer", content=V2_BODY, headers=headers
        ).status_code,
    ]


def guarded_at_include_level(app: FastAPI, settings: Settings) -> None:
    for router, under_api_prefix in routers:
        prefix = settings.API_V1_STR if under_api_prefix else ""
        app.include_router(router, prefix=prefix, dependencies=[Depends(check_token)])


def guarded_through_a_parent(app: FastAPI, settings: Settings) -> None:
    parent = APIRouter(dependencies=[Depends(check_token)])
    for router, under_api_prefix in routers:
        parent.include_router(router, prefix=settings.API_V1_STR if under_api_prefix else "")
    grandparent = APIRouter()
    grandparent.include_router(parent)
    app.include_router(grandparent)


def guarded_app(include: Callable[[FastAPI, Settings], None]) -> FastAPI:
    """The service's app with its routers included by ``include`` instead of as it includes them."""
    settings = Settings()
    app = create_app(settings)
    app.router.routes.clear()
    include(app, settings)
    return app


@pytest.mark.parametrize(
    "include", [guarded_at_include_level, guarded_through_a_parent], ids=["include_router", "nested include_router"]
)
def test_a_guard_on_a_group_of_routes_guards_every_prediction_route(
    include: Callable[[FastAPI, Settings], None],
) -> None:
    with TestClient(guarded_app(include)) as client:
        assert prediction_requests(client, {}) == [401] * 5
        assert prediction_requests(client, {"Authorization": f"Bearer {TOKEN}"}) == [200] * 5
        assert client.get(f"{API}/health").status_code == 401


def test_a_dependency_override_replaces_the_guard_on_every_prediction_route() -> None:
    # How a test lets requests past a guard: the prediction routes are ordinary FastAPI routes.
    app = guarded_app(guarded_at_include_level)
    app.dependency_overrides[check_token] = lambda: None
    with TestClient(app) as client:
        assert prediction_requests(client, {}) == [200] * 5


def test_a_guard_on_the_app_guards_every_prediction_route() -> None:
    app = create_app()
    app.router.dependencies.append(Depends(check_token))
    app.router.routes.clear()
    for router, under_api_prefix in routers:
        app.include_router(router, prefix=Settings().API_V1_STR if under_api_prefix else "")
    with TestClient(app) as client:
        assert prediction_requests(client, {}) == [401] * 5
        assert prediction_requests(client, {"Authorization": f"Bearer {TOKEN}"}) == [200] * 5


def test_the_settings_an_app_is_built_with_apply_to_every_route() -> None:
    with TestClient(create_app(Settings(MAX_ROWS_PER_REQUEST=2))) as client:
        for url in (f"{API}/predict", f"{API}/explain"):
            response = client.post(url, json={"inputs": [ARTICLE_ROW] * 3})
            assert response.status_code == 422
            assert "the limit is 2 per request" in response.json()["detail"][0]["msg"]
        v2 = client.post("/v2/models/car-evaluation/infer", content=triton_request(ALL_CARS.head(3), binary=False)[0])
        assert v2.status_code == 400
        assert "at most 2 rows per request" in v2.json()["error"]


def test_the_error_shape_follows_the_route_that_answers(client: TestClient) -> None:
    assert set(client.post(f"{API}/predict", json={}).json()) == {"detail"}
    assert set(client.post("/v2/models/car-evaluation/infer", content=b"{}").json()) == {"error"}
    assert set(client.get("/v2/nothing/here").json()) == {"error"}
    assert set(client.get(f"{API}/nothing/here").json()) == {"detail"}


def test_every_route_is_handled_by_fastapis_own_handler_and_declares_only_what_it_answers() -> None:
    app = create_app()
    api_routes = [route for route in iter_route_contexts(app.routes) if isinstance(route.original_route, APIRoute)]
    assert len(api_routes) > 10
    for context in api_routes:
        route = context.original_route
        assert isinstance(route, APIRoute)
        assert type(route).get_route_handler is APIRoute.get_route_handler, route.path
        if inspect.signature(route.endpoint).return_annotation in (Response, "Response"):
            assert route.response_model is None, f"{route.path} returns a Response: FastAPI never applies its model"
