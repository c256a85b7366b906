"""What the request-context middleware keeps on a request for the code that handles it."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from starlette.types import Scope

# The id of the request being handled, for every log line written while it is (app.log).
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


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
