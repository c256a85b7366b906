"""What the service reads from a request's ASGI scope, and what it keeps there while answering."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from starlette.types import Scope

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()  # as ASGI spells header names
# Browsers must not guess another type than the one an answer declares.
NOSNIFF = (b"x-content-type-options", b"nosniff")

# The id of the request being handled, for every log line written while it is (app.log).
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of one request header; ``name`` in lower case, as ASGI gives names.

    Starlette's ``request.headers`` builds a mapping of every header to read one.
    """
    for key, value in scope["headers"]:
        if key == name:
            return str(value, "latin-1")
    return None


def combined_header(scope: Scope, name: bytes) -> str | None:
    """Every value of one request header, joined by commas as RFC 9110 combines field lines."""
    values = [str(value, "latin-1") for key, value in scope["headers"] if key == name]
    return ", ".join(values) if values else None


def answer_headers(request_id: str) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries, whether the app or the server's protocol makes it."""
    return [(REQUEST_ID_KEY, request_id.encode()), NOSNIFF]


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
