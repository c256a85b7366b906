"""Schemathesis against the app's own OpenAPI schema: every answer matches it, none is a 500."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import settings

from app.main import app
from tests.conftest import API

schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)


@schema.parametrize()
@settings(max_examples=60, deadline=None)
def test_api_matches_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate()


def test_every_schema_component_has_a_plain_name() -> None:
    components = app.openapi()["components"]["schemas"]
    assert "ErrorResponse" in components
    assert "InferenceErrorResponse" in components
    assert [name for name in components if "__" in name] == []
