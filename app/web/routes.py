from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.api.deps import SettingsDep
from car_evaluation_model import __version__ as model_version

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

root_router = APIRouter(include_in_schema=False)


@root_router.get("/", response_class=HTMLResponse)
def index(request: Request, settings: SettingsDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "project_name": settings.PROJECT_NAME,
            "model_version": model_version,
            "api_prefix": settings.API_V1_STR,
        },
    )
