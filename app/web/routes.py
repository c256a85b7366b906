"""The human side: the index page with a prediction form, and Swagger UI served offline.

Swagger UI follows FastAPI's self-hosting recipe: the app is built with ``docs_url=None``
and this router serves ``/docs`` with the vendored ``swagger-ui-dist`` files, so the page
needs no outside host (the validator badge, which calls one, is switched off).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.api.deps import SettingsDep
from app.api.routing import Router
from car_evaluation_model import __version__ as model_version
from car_evaluation_model import load_model_card
from car_evaluation_model.config.core import config

WEB_DIR = Path(__file__).parent
STATIC_URL = "/static"
SWAGGER_UI_URL = f"{STATIC_URL}/swagger-ui"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"

templates = Jinja2Templates(directory=WEB_DIR / "templates")
model_card = cache(load_model_card)  # the shipped model's card does not change while serving
static_files = StaticFiles(directory=WEB_DIR / "static")

root_router = Router(include_in_schema=False)


@root_router.get("/", response_class=HTMLResponse)
def index(request: Request, settings: SettingsDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "project_name": settings.PROJECT_NAME,
            "api_prefix": settings.API_V1_STR,
            "model_version": model_version,
            "model_card": model_card(),
            "features": config.model.features,
            "classes": config.model.classes,
        },
    )


@root_router.get(DOCS_URL, response_class=HTMLResponse)
def swagger_ui(settings: SettingsDep) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=f"{settings.API_V1_STR}/openapi.json",
        title=f"{settings.PROJECT_NAME} - Swagger UI",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        swagger_js_url=f"{SWAGGER_UI_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI_URL}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI_URL}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True},
    )


@root_router.get(OAUTH2_REDIRECT_URL, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
