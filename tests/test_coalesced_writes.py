"""An answer in one send: the service's protocol with a transport that records each write."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.server import ServerState

from app.coalesced_writes import FLUSH_BYTES, CoalescedWrites
from app.server_protocol import GuardedHttpToolsProtocol

ANSWER = b'{"predictions":["unacc"]}'


class RecordingTransport(asyncio.Transport):
    """A connection's transport that keeps each write as a ``send()`` would take it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


App = Callable[[Scope, Receive, Send], Awaitable[None]]


def exchange(
    app: App,
    request: bytes,
    transport: RecordingTransport | None = None,
    protocols: list[GuardedHttpToolsProtocol] | None = None,
) -> RecordingTransport:
    """Hand ``request`` to the service's protocol serving ``app`` (listed in ``protocols``); the transport once
    the answer is complete."""
    transport = transport or RecordingTransport()

    async def run() -> None:
        config = uvicorn.Config(app, lifespan="off", log_config=None)
        protocol = GuardedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
        if protocols is not None:
            protocols.append(protocol)
        protocol.connection_made(transport)
        protocol.data_received(request)
        for _ in range(1000):
            if protocol.cycle is not None and protocol.cycle.response_complete:
                break
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)  # one more step of the loop: anything held is sent by now
        protocol.connection_lost(None)

    asyncio.run(run())
    return transport


def answering(body: bytes) -> App:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def request(method: str = "GET", extra: str = "") -> bytes:
    return f"{method} /api/v1/health HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def test_an_answer_leaves_in_one_send() -> None:
    transport = exchange(answering(ANSWER), request())
    [sent] = transport.writes
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n")
    assert sent.endswith(b"\r\n\r\n" + ANSWER)


def test_an_answer_to_head_is_its_head_alone_sent_within_a_step() -> None:
    transport = exchange(answering(ANSWER), request("HEAD"))
    [sent] = transport.writes
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n")
    assert sent.endswith(b"content-length: %d\r\n\r\n" % len(ANSWER))


def test_an_answer_of_a_thousand_rows_leaves_with_its_head_in_one_send() -> None:
    body = b"r" * 200_000
    transport = exchange(answering(body), request())
    [sent] = transport.writes
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n")
    assert sent.endswith(b"\r\n\r\n" + body)


def test_a_large_body_is_sent_as_it_is_after_its_head() -> None:
    body = b"x" * FLUSH_BYTES
    transport = exchange(answering(body), request())
    head, sent_body = transport.writes
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head.endswith(b"\r\n\r\n")
    assert sent_body == body


def test_a_streamed_answer_keeps_its_order_and_its_head_does_not_wait_for_its_body() -> None:
    transport = RecordingTransport()
    writes_when_the_body_began: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await asyncio.sleep(0.01)  # the body comes later: the head went on the loop's next step
        writes_when_the_body_began.append(len(transport.writes))
        for part in (b"one", b"two", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    exchange(app, request(), transport)
    assert writes_when_the_body_began == [1]
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"".join(transport.writes).endswith(b"\r\n\r\n3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n")


def test_an_answer_that_closes_the_connection_is_sent_before_the_close() -> None:
    transport = exchange(answering(ANSWER), request(extra="Connection: close\r\n"))
    [sent] = transport.writes
    assert sent.endswith(b"\r\n\r\n" + ANSWER)
    assert transport.closed


def test_a_refusal_of_the_next_request_goes_after_the_answer_still_waiting() -> None:
    protocols: list[GuardedHttpToolsProtocol] = []
    too_large = b"GET / HTTP/1.1\r\nX-Pad: " + b"p" * 70_000

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await answering(ANSWER)(scope, receive, send)
        protocols[0].data_received(too_large)  # in the same step: the answer has not been sent yet

    transport = exchange(app, request(), protocols=protocols)
    answer, refusal = transport.writes
    assert answer.endswith(b"\r\n\r\n" + ANSWER)
    assert refusal.startswith(b"HTTP/1.1 431 ")


def test_the_writes_of_one_step_leave_together_at_its_end_and_before_a_close() -> None:
    async def run() -> RecordingTransport:
        transport = RecordingTransport()
        writes = CoalescedWrites(transport, asyncio.get_running_loop())
        writes.write(b"head")
        writes.write(bytearray(b"body"))
        writes.write(b"tail")
        assert transport.writes == []
        await asyncio.sleep(0)
        assert transport.writes == [b"headbodytail"]
        writes.write(b"last")
        writes.close()
        return transport

    transport = asyncio.run(run())
    assert transport.writes == [b"headbodytail", b"last"]
    assert transport.closed


def test_writes_past_the_bound_are_sent_at_once_and_a_large_one_as_it_is() -> None:
    async def run() -> RecordingTransport:
        transport = RecordingTransport()
        writes = CoalescedWrites(transport, asyncio.get_running_loop())
        half = b"h" * (FLUSH_BYTES // 2)
        writes.write(half)
        writes.write(half)
        assert transport.writes == [half + half]
        large = memoryview(b"l" * FLUSH_BYTES)
        writes.write(b"small")
        writes.write(large)
        assert transport.writes == [half + half, b"small", large]
        return transport

    asyncio.run(run())
