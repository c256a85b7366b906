"""The protocol's refusals, as the service's one error type: a status and one message.

Routes of the protocol (``app.api.routes.v2``) answer them as ``{"error": message}``.
"""

from __future__ import annotations

from app.errors import ApiError

# Every route of the protocol is under this path.
PATH_PREFIX = "/v2"


def bad_request(message: str) -> ApiError:
    """400: a request the protocol layer refuses."""
    return ApiError.single(400, ["body"], message, "bad_request")


def not_found(message: str) -> ApiError:
    """404: an unknown model or version."""
    return ApiError.single(404, ["path"], message, "not_found")
