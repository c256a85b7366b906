"""GET /health: the service's name and versions, once the model is loaded."""

from __future__ import annotations

from fastapi import Depends, Request

from app import __version__ as api_version
from app.api.deps import require_model, settings_of
from app.api.routing import RouterWithHead
from app.schemas.errors import ErrorResponse
from app.schemas.health import Health
from car_evaluation_model import __version__ as model_version

router = RouterWithHead(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": ErrorResponse, "description": "The model cannot be loaded."}},
    dependencies=[Depends(require_model)],
)
async def health(request: Request) -> Health:
    """Service name and versions; 503 when the model cannot be loaded."""
    return Health(name=settings_of(request).PROJECT_NAME, api_version=api_version, model_version=model_version)
