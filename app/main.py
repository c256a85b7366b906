"""The FastAPI application: logging first, then the data plane and its recorders, middleware,
error handlers, routers, OpenAPI.

Every request is dispatched by the routing table and handled by FastAPI's own handler, so
root paths, dependencies (an ``include_router(dependencies=...)`` guard included), dependency
overrides, exception handlers and middleware apply to every route.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import CapacityLimiter
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from loguru import logger
from prometheus_client import CollectorRegistry

from app import __version__ as api_version
from app.access_log import access_log_for
from app.api.main import routers
from app.api.routes.ledger import PERFORMANCE_QUERIES_AT_ONCE
from app.api.routing import error_shape_of
from app.collector import collector_tuned
from app.config import SETTINGS_STATE_KEY, Settings, load_settings
from app.data_plane import AccessLineRecorder, DataPlane
from app.error_handlers import install_error_handlers
from app.errors import ErrorShapes
from app.inference_protocol.schemas import InferenceRequest
from app.ledger import Ledger
from app.ledger.gauges import PerformanceCollector
from app.ledger.metrics import LedgerMetrics
from app.ledger_recorder import LedgerRecorder
from app.log import setup_logging
from app.memory import bound_retained_memory
from app.metrics.files import multiprocess_dir
from app.metrics.http import HttpMetrics
from app.metrics.model import ModelFacts
from app.metrics.predictions import PredictionMetrics
from app.metrics.registry import new_registry, worker_exited
from app.middleware import RequestContextMiddleware
from app.schemas.ledger import FeedbackRequest
from app.schemas.predict import PredictRequest, PredictResponse
from app.web.routes import STATIC_URL, root_router, static_files
from car_evaluation_model import ModelArtifactError, warm_up
from car_evaluation_model import __version__ as model_version


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Settings]]:
    bound_retained_memory()  # in each worker: a large upload's memory is given back (app.memory)
    # Load the model before the first request; a broken model keeps the service up
    # so that /health can say why (503).
    try:
        warm_up()
        logger.info("model car-evaluation-model {} loaded", model_version)
    except ModelArtifactError as error:
        logger.error("model not loaded: {}", error)
    if app.state.model_facts is not None:
        app.state.model_facts.publish()
    # One ledger per worker, opened here, after uvicorn has started the worker's process.
    settings: Settings = app.state.settings
    app.state.ledger = ledger = Ledger.open(settings, app.state.ledger_metrics)
    recorder = None if ledger is None else LedgerRecorder(ledger)
    if recorder is not None:
        app.state.data_plane.attach(recorder)
    scrape_time, gauges = app.state.scrape_time_registry, None
    if ledger is not None and scrape_time is not None:
        gauges = PerformanceCollector(ledger.performance)
        scrape_time.register(gauges)
    # A second Ctrl+C makes uvicorn skip the app's shutdown and cancel it as the process ends:
    # it still runs, and the app ends as it does after one Ctrl+C.
    with contextlib.suppress(asyncio.CancelledError), collector_tuned(app.state.settings.GC_TUNING):
        # The lifespan state reaches the server too: its protocol reads its limits from it.
        yield {SETTINGS_STATE_KEY: app.state.settings}
    if gauges is not None:
        scrape_time.unregister(gauges)
    if recorder is not None:
        app.state.data_plane.detach(recorder)
    if ledger is not None:
        ledger.close()
    worker_exited()
    logger.info("application stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app with these settings; by default, those of the environment."""
    settings = load_settings(Settings) if settings is None else settings
    setup_logging(settings)
    app = FastAPI(
        title=settings.PROJECT_NAME,
        version=api_version,
        description=f"Car acceptability predictions from car-evaluation-model {model_version}.",
        openapi_url=f"{settings.API_V1_STR}/openapi.json",
        docs_url=None,  # served offline by app.web.routes
        redoc_url=None,
        lifespan=lifespan,
        # Starlette's slash redirect builds its Location from the Host header, which a
        # client controls: a path with a trailing slash is a 404 like any other unknown path.
        redirect_slashes=False,
        telemetry=None if settings.OTEL_ENABLED else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    # Middleware added first runs innermost.
    if settings.all_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.all_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.state.data_plane = data_plane = DataPlane([AccessLineRecorder()])
    app.state.metrics_registry = registry = new_registry() if settings.METRICS_ENABLED else None
    app.state.model_facts = ModelFacts(registry) if registry is not None else None
    app.state.ledger_metrics = LedgerMetrics(registry)
    app.state.ledger = None  # opened in the lifespan, in each worker
    app.state.performance_queries = CapacityLimiter(PERFORMANCE_QUERIES_AT_ONCE)
    # What a scrape reads from a database (the ledger's live performance): the same in every
    # worker, so kept out of the multiprocess files, and read off the event loop.
    app.state.scrape_time_registry = CollectorRegistry() if registry is not None else None
    http_metrics = None
    app.state.before_scrape = []  # what adds its waiting values to the metrics before a scrape
    if registry is not None:
        http_metrics = HttpMetrics(registry, at_once=multiprocess_dir() is not None)
        prediction_metrics = PredictionMetrics(registry)
        data_plane.attach(prediction_metrics)
        app.state.before_scrape = [http_metrics.flush, prediction_metrics.flush]
    app.state.access_log = access_log = access_log_for(settings)
    app.add_middleware(
        RequestContextMiddleware, metrics=http_metrics, access_log=access_log
    )  # outermost: id, metrics, log line
    install_error_handlers(app)
    app.state.error_shapes = error_shapes = ErrorShapes()
    for router, under_api_prefix in routers:
        prefix = settings.API_V1_STR if under_api_prefix else ""
        app.include_router(router, prefix=prefix)
        error_shapes.add(prefix + router.prefix, error_shape_of(router))
    app.include_router(root_router)
    app.mount(STATIC_URL, static_files, name="static")

    def openapi() -> dict[str, Any]:
        # The direct routes and /feedback read their bodies themselves (app/api/inputs.py, routes/v2.py);
        # their request bodies' schemas are published here. So is /predict's answer: FastAPI
        # leaves every null out of the document, and its example's "errors" is null.
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (PredictRequest, PredictResponse, InferenceRequest, FeedbackRequest):
                request_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(request_schema.pop("$defs", {}))
                components[model.__name__] = request_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


app = create_app()
