"""GET /metrics: the Prometheus exposition, at the root where scrapers look for it."""

from __future__ import annotations

from fastapi import Response

from app.api.deps import MetricsDep
from app.api.routing import RouterWithHead

router = RouterWithHead(include_in_schema=False)


@router.get("/metrics")
async def metrics(service_metrics: MetricsDep) -> Response:
    return service_metrics.exposition()
