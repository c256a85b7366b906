"""Dependencies shared by the routes, as ``Annotated`` aliases.

Each is ``async`` and takes only the request: FastAPI calls an ``async`` dependency on the
event loop (a plain ``def`` costs a thread-pool round trip per request), and ``DirectRoute``
calls dependencies of that shape itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.errors import model_unavailable
from app.metrics import Metrics
from car_evaluation_model import ModelArtifactError, warm_up


async def get_settings(request: Request) -> Settings:
    """The settings the running app was built with (``create_app`` puts them on its state)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_metrics(request: Request) -> Metrics:
    """The app's metrics (``create_app`` puts them on its state)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def require_model(request: Request) -> None:
    """503 unless the model is loaded: for routes that say whether the service can answer."""
    try:
        warm_up()
    except ModelArtifactError as error:
        raise model_unavailable(error) from error
