"""uvicorn's httptools protocol with bounds on a request's headers, in size and in time, and answers in one send.

uvicorn sets no limit of its own: a client could send megabytes of headers (all buffered),
or open connections and never finish their headers. Here the request line and headers
together may take ``MAX_REQUEST_HEADER_BYTES`` (else 431) and must arrive within
``REQUEST_HEADER_TIMEOUT_SECONDS`` of the connection or of the request's first byte (else
408, checked every second); either answer closes the connection. Bodies are not timed here: a stalled upload holds
only its own connection, is cut by the graceful-shutdown timeout on stop, and the proxy in
front (deploy/nginx/) times out slow clients before they reach the service. A request the
parser refuses gets uvicorn's 400, in the API's error shape and with a request id as the others.
A response's head and body leave in one ``send()`` (``app.coalesced_writes``).

The limits are the settings the app was built with (``create_app(settings)``): the app's
lifespan hands them to the server in the ASGI lifespan state, which uvicorn gives every
connection as ``app_state``. Selected with ``--http app.server_protocol:GuardedHttpToolsProtocol``
(app/serve.py does).
"""

from __future__ import annotations

import asyncio
from functools import cache
from http import HTTPStatus
from typing import Any

from loguru import logger
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.coalesced_writes import CoalescedWrites
from app.config import SETTINGS_STATE_KEY, Settings
from app.errors import DETAIL, ApiError
from app.request_ids import new_request_id
from app.request_state import answer_headers

# Only for an app run without its lifespan (uvicorn --lifespan off): the settings of the environment.
environment_settings = cache(Settings)

KINDS = {400: "http_invalid", 408: "request_timeout", 431: "headers_too_large"}


HEADERS_END = b"\r\n\r\n"
DEADLINE_CHECK_SECONDS = 1.0


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.awaiting_headers = True
        self.header_bytes = 0  # bytes of the current request's head received so far
        self.header_tail = b""  # its last bytes, in case the blank line is split across reads
        self.header_deadline: float | None = None  # loop time by which the head must be in
        self.refused = False
        self.deadline_check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.settings: Settings = self.app_state.get(SETTINGS_STATE_KEY) or environment_settings()
        self.header_deadline = self.loop.time() + self.settings.REQUEST_HEADER_TIMEOUT_SECONDS
        self.deadline_check = self.loop.call_later(DEADLINE_CHECK_SECONDS, self.check_header_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.deadline_check is not None:
            self.deadline_check.cancel()
        super().connection_lost(exc)

    def check_header_deadline(self) -> None:
        """Every second while the connection is open: 408 once its head is past its deadline.

        One timer per connection, not one per request: a request only sets its deadline, and
        its head may so take up to a second longer.
        """
        deadline = self.header_deadline
        if deadline is not None and deadline <= self.loop.time():
            self.headers_timed_out()
        if not self.transport.is_closing():
            self.deadline_check = self.loop.call_later(DEADLINE_CHECK_SECONDS, self.check_header_deadline)

    def data_received(self, data: bytes) -> None:
        if self.refused:  # the rest of a refused request is not parsed
            return
        if self.awaiting_headers and self._head_too_large(data):
            limit = self.settings.MAX_REQUEST_HEADER_BYTES
            self._refuse(431, "header", f"request line and headers are larger than the limit of {limit} bytes")
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_deadline = self.loop.time() + self.settings.REQUEST_HEADER_TIMEOUT_SECONDS

    def on_headers_complete(self) -> None:
        self.awaiting_headers, self.header_bytes, self.header_tail = False, 0, b""
        self.header_deadline = None
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a request's cycle, made before its app task's first step
            self.cycle.transport = self.response_transport()

    def response_transport(self) -> asyncio.Transport:
        """What a request's cycle writes its response to: a loop step's writes in one send (app.coalesced_writes)."""
        return CoalescedWrites(self.transport, self.loop)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.awaiting_headers = True  # what comes next on this connection is a new request

    def _head_too_large(self, data: bytes) -> bool:
        """Count the bytes up to the blank line that ends the head, before the parser buffers them.

        httptools hands over a header only once it is complete, so counting in its callbacks
        would let one endless header grow without bound.
        """
        if not self.header_bytes:
            # Blank lines may come before a request line (RFC 9112, 2.2): they are not its head.
            data = data.lstrip(b"\r\n")
            end = data.find(HEADERS_END)
            if end >= 0:  # the usual case: a whole head in the first read
                return end + len(HEADERS_END) > self.settings.MAX_REQUEST_HEADER_BYTES
        seen = self.header_tail + data
        end = seen.find(HEADERS_END)
        head_bytes_here = len(data) if end < 0 else end + len(HEADERS_END) - len(self.header_tail)
        self.header_bytes += head_bytes_here
        self.header_tail = seen[-(len(HEADERS_END) - 1) :]
        return self.header_bytes > self.settings.MAX_REQUEST_HEADER_BYTES

    def headers_timed_out(self) -> None:
        timeout = self.settings.REQUEST_HEADER_TIMEOUT_SECONDS
        self._refuse(408, "header", f"request headers did not arrive within {timeout:g} s")

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to a request its parser refuses (a Content-Length with chunked
        # Transfer-Encoding, a malformed request line): here in the API's shape, with an id.
        self._refuse(400, "request", "the request is not valid HTTP/1.1")

    def _refuse(self, status: int, location: str, message: str) -> None:
        """Answer ``status`` with the API's error body and close the connection."""
        self.refused = True
        self.header_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and isinstance(self.cycle.transport, CoalescedWrites):
            self.cycle.transport.flush()  # the answer before, still waiting to be sent, goes first
        request_id = new_request_id()
        # No route owns a request refused before its head is read: the default shape.
        status, body = DETAIL.render(ApiError.single(status, [location], message, KINDS[status]))
        head = [
            b"HTTP/1.1 %d %s" % (status, HTTPStatus(status).phrase.encode()),
            b"content-type: application/json",
            b"content-length: %d" % len(body),
            b"connection: close",
            *(name + b": " + value for name, value in answer_headers(request_id)),
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
        logger.bind(request_id=request_id).info("{} refused {}: {}", client, status, message)
