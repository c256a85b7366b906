"""The app's lifespan: the garbage collector is tuned while the app runs, and restored when it stops."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import YOUNG_COLLECTION_THRESHOLD, create_app

DEFAULTS = (700, 10, 10)  # CPython's


@pytest.fixture
def default_collector() -> Iterator[None]:
    kept = gc.get_threshold()
    gc.set_threshold(*DEFAULTS)
    try:
        yield
    finally:
        gc.set_threshold(*kept)


@pytest.mark.usefixtures("default_collector")
def test_the_collector_is_tuned_while_the_app_runs_and_restored_when_it_stops() -> None:
    with TestClient(create_app(Settings())) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *DEFAULTS[1:])
        assert gc.get_freeze_count() > 0  # the loaded model is out of the collector's way
    assert gc.get_threshold() == DEFAULTS
    assert gc.get_freeze_count() == 0  # a stopped app can be collected
