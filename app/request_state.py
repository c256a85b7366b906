"""What the request-context middleware keeps on a request for the code that handles it."""

from __future__ import annotations

from typing import Any

from starlette.types import Scope


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def access_log_fields(scope: Scope) -> dict[str, Any]:
    """Fields a handler wants on this request's access line."""
    fields: dict[str, Any] = _state(scope).setdefault("access_log", {})
    return fields


def request_id_of(scope: Scope) -> str:
    request_id: str = _state(scope).get("request_id", "-")
    return request_id


def set_request_id(scope: Scope, request_id: str) -> None:
    _state(scope)["request_id"] = request_id
