"""The protocol's error: an HTTP status and one message, answered as ``{"error": message}``."""

from __future__ import annotations

import orjson

# Every route of the protocol is under this path; errors there are answered in its shape.
PATH_PREFIX = "/v2"


class ProtocolError(Exception):
    """A request the protocol layer refuses: 400 for a bad request, 404 for an unknown model or version."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> bytes:
        """The JSON error body every Open Inference Protocol client reads (tritonclient needs the key)."""
        return orjson.dumps({"error": self.message})


def bad_request(message: str) -> ProtocolError:
    return ProtocolError(400, message)
