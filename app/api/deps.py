"""Dependencies shared by the routes, as ``Annotated`` aliases.

Each is ``async`` and takes only the request: FastAPI calls an ``async`` dependency on the
event loop (a plain ``def`` costs a thread-pool round trip per request).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.data_plane import DataPlane


async def get_settings(request: Request) -> Settings:
    """The settings the running app was built with (``create_app`` puts them on its state)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_data_plane(request: Request) -> DataPlane:
    """The app's data plane (``create_app`` builds it with its recorders)."""
    data_plane: DataPlane = request.app.state.data_plane
    return data_plane


DataPlaneDep = Annotated[DataPlane, Depends(get_data_plane)]


async def require_model(data_plane: DataPlaneDep) -> None:
    """503 unless the model is loaded: for routes that say whether the service can answer."""
    data_plane.check_ready()
