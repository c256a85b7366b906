"""One ``send()`` for a small response: the transport a request's cycle writes its answer to.

uvicorn writes a response's status line and headers, then its body, as two ``transport.write``
calls: on a socket with room, each is a ``send()`` system call and a TCP segment of its own.
Here a small write waits for the next one, which takes it along, or for the event loop's next
step, whichever comes first: a small response leaves in one ``send()``, as aiohttp sends its
small responses (aio-libs/aiohttp#10991). Nothing waits longer than one step of the loop,
large writes pass straight through, and the order of the bytes never changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

HOLD_BYTES = 4096  # a write up to this size may wait for the next one (a response's head is far smaller)
JOIN_BYTES = 65536  # a held write and the next are copied into one buffer up to this size, else sent apart


class CoalescedWrites(asyncio.Transport):
    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.transport = transport
        self.loop = loop
        self.held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self.held
        if held is None:
            if len(data) > HOLD_BYTES:
                self.transport.write(data)
            else:
                self.held = bytes(data)
                self.loop.call_soon(self.flush)
            return
        self.held = None
        if len(held) + len(data) <= JOIN_BYTES:
            self.transport.write(held + data)
        else:
            self.transport.write(held)
            self.transport.write(data)

    def flush(self) -> None:
        """Send a write still held."""
        held, self.held = self.held, None
        if held is not None:
            self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)
