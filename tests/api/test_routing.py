"""The direct routes: called without FastAPI's dependency solver, however their routers are included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.utils import solve_dependencies
from fastapi.testclient import TestClient
from starlette.responses import Response

from app.api.deps import get_settings
from app.api.routes import explain, predict, v2
from app.api.routing import DirectRoute, RouterWithHead
from app.config import Settings
from app.errors import install_error_handlers
from app.main import create_app
from app.metrics import NoMetrics
from app.schemas.predict import PredictRequest
from car_evaluation_model import __version__ as model_version
from tests.conftest import API, ARTICLE_ROW
from tests.inference_protocol.clients import ALL_CARS, triton_request

ONE_ROW = {"inputs": [ARTICLE_ROW]}
V2_BODY, _ = triton_request(ALL_CARS.head(2), binary=False)


@pytest.fixture
def solver_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests that went through FastAPI's dependency solver."""
    calls: list[str] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["request"].url.path)
        return await solve_dependencies(*args, **kwargs)

    # Where FastAPI's request handler looks the solver up.
    monkeypatch.setattr("fastapi.routing.solve_dependencies", counted)
    return calls


def hot_requests(client: TestClient, api: str = API) -> list[int]:
    """One request to each direct route, both v2 paths included; their status codes."""
    return [
        client.post(f"{api}/predict", json=ONE_ROW).status_code,
        client.post(f"{api}/explain", json=ONE_ROW).status_code,
        client.post("/v2/models/car-evaluation/infer", content=V2_BODY).status_code,
        client.post(f"/v2/models/car-evaluation/versions/{model_version}/infer", content=V2_BODY).status_code,
    ]


def bare_app(include: Callable[[FastAPI], None]) -> FastAPI:
    """An app with what the routes need (settings, metrics, error handlers), its routers included by ``include``."""
    app = FastAPI()
    app.state.settings = Settings()
    app.state.metrics = NoMetrics()
    install_error_handlers(app)
    include(app)
    return app


def included_directly(app: FastAPI) -> None:
    app.include_router(predict.router, prefix="/elsewhere")
    app.include_router(explain.router, prefix="/elsewhere")
    app.include_router(v2.infer_router)


def included_through_a_parent(app: FastAPI) -> None:
    parent = APIRouter(prefix="/nested")
    parent.include_router(predict.router)
    parent.include_router(explain.router)
    app.include_router(parent, prefix="/elsewhere")
    grandparent = APIRouter()
    grandparent.include_router(v2.infer_router)
    app.include_router(grandparent)


def test_the_service_answers_the_hot_routes_without_the_dependency_solver(solver_calls: list[str]) -> None:
    with TestClient(create_app()) as client:
        assert hot_requests(client) == [200] * 4
    assert solver_calls == []


@pytest.mark.parametrize(
    ("include", "api"),
    [(included_directly, "/elsewhere"), (included_through_a_parent, "/elsewhere/nested")],
    ids=["include_router", "nested include_router"],
)
def test_the_direct_routes_stay_direct_however_their_routers_are_included(
    solver_calls: list[str], include: Callable[[FastAPI], None], api: str
) -> None:
    with TestClient(bare_app(include)) as client:
        assert hot_requests(client, api) == [200] * 4
    assert solver_calls == []


def test_with_a_dependency_override_fastapi_handles_the_request(solver_calls: list[str]) -> None:
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: Settings(MAX_ROWS_PER_REQUEST=2)
    with TestClient(app) as client:
        response = client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW] * 3})
        assert response.status_code == 422
        assert "the limit is 2 per request" in response.json()["detail"][0]["msg"]
        assert hot_requests(client) == [200] * 4
    assert f"{API}/predict" in solver_calls
    assert f"/v2/models/car-evaluation/versions/{model_version}/infer" in solver_calls


async def takes_settings(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> Settings:
    raise AssertionError("never called")


@pytest.mark.parametrize(
    ("endpoint", "options"),
    [
        (lambda: None, {}),
        (None, {}),
        (None, {"dependencies": [Depends(get_settings)]}),
    ],
    ids=["not async", "body parameter", "route dependencies"],
)
def test_a_direct_route_refuses_endpoints_it_could_not_call_directly(
    endpoint: Callable[..., Any] | None, options: dict[str, Any]
) -> None:
    async def with_a_body(payload: PredictRequest) -> Response:
        raise AssertionError("never called")

    async def with_the_request(request: Request) -> Response:
        raise AssertionError("never called")

    chosen = endpoint or (with_the_request if options else with_a_body)
    router = RouterWithHead(route_class=DirectRoute)
    with pytest.raises(TypeError, match="DirectRoute"):
        router.add_api_route("/direct", chosen, methods=["POST"], **options)


def test_a_dependency_that_needs_more_than_the_request_is_refused() -> None:
    async def nested(request: Request, settings: Annotated[Settings, Depends(takes_settings)]) -> Response:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="DirectRoute"):
        RouterWithHead(route_class=DirectRoute).add_api_route("/direct", nested, methods=["POST"])
