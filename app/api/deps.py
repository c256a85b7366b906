"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.metrics import Metrics


async def get_settings(request: Request) -> Settings:
    """The settings the running app was built with (``create_app`` puts them on its state).

    ``async`` so that FastAPI calls it on the event loop (a plain ``def`` dependency costs a
    thread-pool round trip on every request), and taking only the request, as the hot
    route's ``LeanRoute`` requires.
    """
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_metrics(request: Request) -> Metrics:
    """The app's metrics (``create_app`` puts them on its state)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]
