"""What the routes share of the app: its settings (an ``Annotated`` dependency) and its data plane.

``get_settings`` is ``async`` and takes only the request: FastAPI calls an ``async`` dependency
on the event loop (a plain ``def`` costs a thread-pool round trip per request). The data plane
is read from the app's state with ``data_plane_of``, not through a dependency: FastAPI's solver,
run for each dependency of each request, is a large share of a one-row request (the HTTP
benchmark), and the data plane is the app's own, never overridden.
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


def data_plane_of(request: Request) -> DataPlane:
    """The app's data plane (``create_app`` builds it with its recorders)."""
    data_plane: DataPlane = request.app.state.data_plane
    return data_plane


async def require_model(request: Request) -> None:
    """503 unless the model is loaded: for routes that say whether the service can answer."""
    data_plane_of(request).check_ready()
