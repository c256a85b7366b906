"""The human side: the index page with a prediction form, the monitoring page, and Swagger UI served offline.

Swagger UI follows FastAPI's self-hosting recipe: the app is built with ``docs_url=None``
and this router serves ``/docs`` with the vendored ``swagger-ui-dist`` files, so the page
needs no outside host (the validator badge, which calls one, is switched off).

The monitoring page draws the ledger's live performance (``GET /api/v1/performance``) in the
browser, with inline SVG. All pages link to assets and the API by relative URLs (no scheme, no
host, no leading slash), resolved by the browser against the page's own address: they work
unchanged behind an https proxy and under a path prefix that the proxy strips (deploy/nginx/).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.api.deps import settings_of
from app.api.routing import RouterWithHead
from app.config import Settings
from car_evaluation_model import __version__ as model_version
from car_evaluation_model import load_model_card
from car_evaluation_model.config.core import config

WEB_DIR = Path(__file__).parent
STATIC_URL = "/static"
DOCS_URL = "/docs"
# Relative to the pages, which are all at the service's top level ("/", "/monitoring", "/docs").
STATIC_LINK = STATIC_URL.removeprefix("/")
SWAGGER_UI_LINK = f"{STATIC_LINK}/swagger-ui"


def api_link(settings: Settings) -> str:
    return settings.API_V1_STR.removeprefix("/")


templates = Jinja2Templates(directory=WEB_DIR / "templates")
model_card = cache(load_model_card)  # the shipped model's card does not change while serving
static_files = StaticFiles(directory=WEB_DIR / "static")

root_router = RouterWithHead(include_in_schema=False)


@root_router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    settings = settings_of(request)
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "project_name": settings.PROJECT_NAME,
            "static": STATIC_LINK,
            "api": api_link(settings),
            "model_version": model_version,
            "model_card": model_card(),
            "features": config.model.features,
            "classes": config.model.classes,
        },
    )


@root_router.get("/monitoring", response_class=HTMLResponse)
def monitoring(request: Request) -> HTMLResponse:
    settings = settings_of(request)
    return templates.TemplateResponse(
        request,
        "monitoring.html",
        {"project_name": settings.PROJECT_NAME, "static": STATIC_LINK, "api": api_link(settings)},
    )


@root_router.get(DOCS_URL, response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    settings = settings_of(request)
    return get_swagger_ui_html(
        openapi_url=f"{api_link(settings)}/openapi.json",
        title=f"{settings.PROJECT_NAME} - Swagger UI",
        # No OAuth2 redirect page: the API has no OAuth2 security scheme (and FastAPI would
        # link it from the origin, which misses a path prefix).
        oauth2_redirect_url=None,
        swagger_js_url=f"{SWAGGER_UI_LINK}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI_LINK}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI_LINK}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True},
    )
