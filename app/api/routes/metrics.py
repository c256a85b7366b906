"""GET /metrics: the Prometheus exposition, at the root where scrapers look for it."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import generate_latest

from app.api.routing import RouterWithHead
from app.errors import ApiError
from app.metrics.registry import CONTENT_TYPE_LATEST, exposition

router = RouterWithHead(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics_registry
    if registry is None:
        raise ApiError.single(404, ["path"], "metrics are off (METRICS_ENABLED=false)", "not_found")
    for flush in request.app.state.before_scrape:
        flush()
    body = exposition(registry)
    # Collectors that query a database when scraped (app.ledger.gauges): in the thread pool.
    body += await run_in_threadpool(generate_latest, request.app.state.scrape_time_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
