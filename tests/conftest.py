from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from loguru import logger

from app.config import Settings, settings
from app.main import app, create_app

API = settings.API_V1_STR  # the prefix of the API routes, as the service is configured

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


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """The access lines a test caused are written as it returns, into its own captured output.

    They wait up to ``FLUSH_SECONDS`` otherwise, and the timer, on a client's event-loop thread,
    would write them while pytest prints its progress, or into a later test's output. This
    wrapper is the innermost (``trylast``): it runs while pytest still captures the test's
    output. No request is in flight then: a test client returns once the app has finished.
    """
    try:
        return (yield)
    finally:
        test_client = getattr(item, "funcargs", {}).get("client")
        tested_apps = [app]
        if isinstance(test_client, TestClient) and isinstance(test_client.app, FastAPI):
            tested_apps.append(test_client.app)
        for tested in tested_apps:
            if tested.state.access_log is not None:
                tested.state.access_log.flush()


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
