from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app import __version__ as api_version
from app.api.deps import SettingsDep
from app.schemas.errors import ErrorResponse
from app.schemas.health import Health
from car_evaluation_model import ModelArtifactError, warm_up
from car_evaluation_model import __version__ as model_version

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": ErrorResponse, "description": "The model cannot be loaded."}},
)
def health(settings: SettingsDep) -> Health | JSONResponse:
    """Service name and versions; 503 when the model cannot be loaded."""
    try:
        warm_up()
    except ModelArtifactError as error:
        return JSONResponse(
            status_code=503,
            content={"detail": [{"loc": ["model"], "msg": str(error), "type": "model_unavailable"}]},
        )
    return Health(name=settings.PROJECT_NAME, api_version=api_version, model_version=model_version)
