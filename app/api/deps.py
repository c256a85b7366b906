"""What the routes share of the app: its settings and its data plane, read from the app's state.

``create_app`` puts both on the app's state, and a route reads them from its request with
``settings_of`` and ``data_plane_of``, not through dependencies: FastAPI's solver, run for each
dependency of each request, is a large share of a one-row request (the HTTP benchmark), and
both are the app's own (a test gives other settings to ``create_app``).
"""

from __future__ import annotations

from fastapi import Request

from app.config import Settings
from app.data_plane import DataPlane


def settings_of(request: Request) -> Settings:
    """The settings the running app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def data_plane_of(request: Request) -> DataPlane:
    """The app's data plane (``create_app`` builds it with its recorders)."""
    data_plane: DataPlane = request.app.state.data_plane
    return data_plane


async def require_model(request: Request) -> None:
    """503 unless the model is loaded: for routes that say whether the service can answer."""
    data_plane_of(request).check_ready()
