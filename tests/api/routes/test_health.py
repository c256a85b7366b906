from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app import __version__ as api_version
from app import data_plane
from car_evaluation_model import ModelArtifactError
from car_evaluation_model import __version__ as model_version
from tests.conftest import API


def test_health_reports_name_and_versions(client: TestClient) -> None:
    response = client.get(f"{API}/health")
    assert response.status_code == 200
    assert response.json() == {"name": "Car Evaluation API", "api_version": api_version, "model_version": model_version}


def test_health_is_503_when_the_model_cannot_be_loaded(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ModelArtifactError("no trained model at /nowhere.pkl")

    monkeypatch.setattr(data_plane, "warm_up", broken)
    response = client.get(f"{API}/health")
    assert response.status_code == 503
    assert response.json()["detail"][0]["msg"] == "no trained model at /nowhere.pkl"
