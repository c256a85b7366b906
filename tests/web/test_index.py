from __future__ import annotations

import re

from fastapi.testclient import TestClient

from car_evaluation_model import __version__ as model_version
from car_evaluation_model.config.core import config
from tests.conftest import API

API_LINK = API.removeprefix("/")  # the pages link relatively: they work under a path prefix


def test_index_page_links_to_docs_and_health(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Car Evaluation API</title>" in response.text
    # Relative links, so the page works under a path prefix (see test_nginx_replicas.py).
    assert 'href="docs"' in response.text
    assert f'href="{API_LINK}/health"' in response.text
    assert model_version in response.text


def test_index_page_has_a_select_per_feature_with_the_allowed_values(client: TestClient) -> None:
    text = client.get("/").text
    for feature in config.model.features:
        assert f'<select id="{feature.name}" name="{feature.name}" required>' in text
        for value in feature.values:
            assert f'<option value="{value}">{value}</option>' in text


def test_docs_are_served_from_this_host_only(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert f"url: '{API_LINK}/openapi.json'" in response.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert assets
    assert all(asset.startswith("static/swagger-ui/") for asset in assets), assets
    for asset in assets:
        assert client.get(f"/{asset}").status_code == 200
    assert '"validatorUrl": null' in response.text


def test_redoc_is_not_served(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
