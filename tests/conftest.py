from __future__ import annotations

import os

# The service records every prediction into its ledger (SQLite under data/ by default). The
# tests' apps record nothing unless a test gives one a ledger of its own (tests/ledger/); this
# is set before the app module builds its app.
os.environ.setdefault("LEDGER_URL", "off")

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loguru import logger

from app.config import Settings
from app.main import app, create_app

API = Settings().API_V1_STR  # the prefix of the API routes, as the service is configured

ARTICLE_ROW: dict[str, Any] = {
    "buying": "low",
    "maint": "low",
    "doors": 4,
    "persons": "more",
    "lug_boot": "big",
    "safety": "high",
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """A client for an app built with other settings."""
    with ExitStack() as clients:

        def build(**overrides: Any) -> TestClient:
            return clients.enter_context(TestClient(create_app(Settings(**overrides))))

        yield build


@pytest.fixture
def log_records() -> Iterator[list[Any]]:
    """Every loguru record emitted while the test runs."""
    records: list[Any] = []
    sink_id = logger.add(lambda message: records.append(message.record), level="DEBUG")
    yield records
    logger.remove(sink_id)
