from __future__ import annotations

from fastapi.testclient import TestClient

from car_evaluation_model import __version__ as model_version


def test_index_page_links_to_docs_and_health(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Car Evaluation API</title>" in response.text
    assert 'href="/docs"' in response.text
    assert 'href="/api/v1/health"' in response.text
    assert model_version in response.text


def test_docs_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "/api/v1/openapi.json" in response.text
