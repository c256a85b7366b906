"""Building and running the app leaves the process's own settings alone."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


def test_running_the_app_leaves_the_garbage_collector_as_it_was() -> None:
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    with TestClient(create_app(Settings())) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert (gc.get_threshold(), gc.get_freeze_count()) == (thresholds, frozen)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (thresholds, frozen)
