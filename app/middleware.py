"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request).

``RequestContextMiddleware``: a request id per request (a well-formed ``X-Request-ID`` from
the client, else a new one), echoed in the response and bound to every log line, and one
access line per request. Handlers add fields to that line through ``access_log_fields``.

``BodySizeLimitMiddleware``: refuse bodies over the limit with 413 before they are read
into memory, whether or not the client sent a ``Content-Length``. (FastAPI's own
``max_body_size`` answers a declared oversize body with a plain-text 413 that no handler can
reshape; this one answers every oversize body with the API's JSON error naming the limit.)
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
from loguru import logger
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def access_log_fields(request: Request) -> dict[str, Any]:
    """Fields a handler wants on this request's access line."""
    fields: dict[str, Any] = request.scope.setdefault("state", {}).setdefault("access_log", {})
    return fields


def _request_id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _REQUEST_ID_PATTERN.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id_from(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        with logger.contextualize(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                fields = scope.get("state", {}).get("access_log", {})
                logger.info(
                    "{method} {path} {status} {duration_ms:.2f}ms{details}",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    details="".join(f" {key}={_compact(value)}" for key, value in fields.items()),
                    **fields,
                )


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else str(orjson.dumps(value), "utf-8")


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await self._refuse(send)
                return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLargeError:
            if response_started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(
            {
                "detail": [
                    {
                        "loc": ["body"],
                        "msg": f"request body is larger than the limit of {self.max_body_bytes} bytes",
                        "type": "body_too_large",
                    }
                ]
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLargeError(Exception):
    pass
