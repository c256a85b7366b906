from __future__ import annotations

from app import __version__ as api_version
from app.api.deps import SettingsDep
from app.api.errors import model_unavailable
from app.api.routing import Router
from app.schemas.errors import ErrorResponse
from app.schemas.health import Health
from car_evaluation_model import ModelArtifactError, warm_up
from car_evaluation_model import __version__ as model_version

router = Router(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": ErrorResponse, "description": "The model cannot be loaded."}},
)
def health(settings: SettingsDep) -> Health:
    """Service name and versions; 503 when the model cannot be loaded."""
    try:
        warm_up()
    except ModelArtifactError as error:
        raise model_unavailable(error) from error
    return Health(name=settings.PROJECT_NAME, api_version=api_version, model_version=model_version)
