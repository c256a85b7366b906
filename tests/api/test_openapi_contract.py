"""Schemathesis against the app's own OpenAPI schema: every answer matches it, none is a 500."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import settings
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import app
from tests.conftest import API

schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)


# A schema says an upload is a file, not which bytes make a CSV or Parquet file of cars: the
# random files it allows are refused (415, 422), so "valid data is accepted" cannot hold there.
FILE_UPLOAD = f"{API}/predict/file"


@schema.parametrize()
@settings(max_examples=60, deadline=None)
def test_api_matches_its_schema(case: schemathesis.Case[Any]) -> None:
    excluded: list[CheckFunction] = [positive_data_acceptance] if case.path == FILE_UPLOAD else []
    case.call_and_validate(excluded_checks=excluded)


def test_every_schema_component_has_a_plain_name() -> None:
    components = app.openapi()["components"]["schemas"]
    assert "ErrorResponse" in components
    assert "InferenceErrorResponse" in components
    assert [name for name in components if "__" in name] == []
