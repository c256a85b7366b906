"""The one middleware of the service: what every answer gets, whatever route made it.

A pure ASGI middleware (cheaper than ``BaseHTTPMiddleware`` on every request). Per request:
a request id (a well-formed ``X-Request-ID`` from the client, else a new one), echoed in the
response and bound to every log line; ``X-Content-Type-Options: nosniff``; the request
metrics (count, latency and in progress, by route template); one access line
(``app.access_log``), to which handlers add fields through ``access_log_fields``. An exception nothing else handled
becomes the 500 of ``internal_error_response`` here, and its traceback is logged once, with
the request id: Starlette's own last resort would answer without the id and re-raise, and
uvicorn would log the traceback again without it. A request that the server cancels at the
end of its graceful-shutdown timeout gets a 503.
"""

from __future__ import annotations

import asyncio
import time

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access_log import AccessLog
from app.errors import error_response, internal_error, shutting_down
from app.metrics.http import HttpMetrics, route_template
from app.request_ids import REQUEST_ID_PATTERN, new_request_id
from app.request_state import (
    REQUEST_ID_KEY,
    access_log_fields,
    answer_headers,
    current_request_id,
    header,
    set_request_id,
)


def _request_id_from(scope: Scope) -> str:
    candidate = header(scope, REQUEST_ID_KEY)
    if candidate is not None and REQUEST_ID_PATTERN.fullmatch(candidate):
        return candidate
    return new_request_id()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics | None, access_log: AccessLog | None) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id_from(scope)
        set_request_id(scope, request_id)
        root_path = scope.get("root_path", "")
        if self.metrics is not None:
            self.metrics.request_started(scope["method"])
        started = time.perf_counter()
        status = 500
        response_started = False
        headers = answer_headers(request_id)

        async def send_with_context(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_context)
        except Exception:
            logger.exception("unhandled error in {} {}", scope["method"], scope["path"])
            if response_started:
                raise  # too late for an error answer: the server closes the connection
            await error_response(internal_error(scope), scope)(scope, receive, send_with_context)
        except asyncio.CancelledError:
            # uvicorn cancels what is still running when the graceful-shutdown timeout
            # ends (a stalled upload, say). The task ends here either way: answer 503,
            # and let uvicorn stop without logging a traceback for it.
            access_log_fields(scope)["note"] = "cut by the graceful-shutdown timeout"
            if not response_started:
                await error_response(shutting_down(), scope)(scope, receive, send_with_context)
        finally:
            current_request_id.reset(token)
            duration = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.request_finished(route_template(scope, root_path), scope["method"], status, duration)
            if self.access_log is not None:
                self.access_log.write(scope, request_id, status, duration)
