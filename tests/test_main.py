"""The app's lifespan: the garbage collector is tuned only while the app runs, and only when asked."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.collector import YOUNG_COLLECTION_THRESHOLD
from app.config import Settings
from app.main import create_app


def collector_state() -> tuple[tuple[int, ...], int]:
    return gc.get_threshold(), gc.get_freeze_count()


def test_the_collector_is_tuned_while_the_app_runs_and_restored_when_it_stops() -> None:
    before = collector_state()
    with TestClient(create_app(Settings(GC_TUNING=True))) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD
        assert gc.get_freeze_count() > 0  # the loaded model is out of the collector's way
    assert collector_state() == before


def test_without_tuning_the_app_leaves_the_collector_alone() -> None:
    before = collector_state()
    with TestClient(create_app(Settings(GC_TUNING=False))) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert collector_state() == before
    assert collector_state() == before
