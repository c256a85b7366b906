"""A response's writes of one step of the event loop sent together, at the step's end.

uvicorn writes a response's status line and headers, then its body, as two ``transport.write``
calls: on a socket with room, each is a ``send()`` system call and a TCP segment of its own.
Here the writes a response makes in one step of the event loop wait until the loop's next
step and leave in one ``send()``, with the other answers of that step (aiohttp likewise sends a
small response's head and body in one packet: aio-libs/aiohttp#10991). Nothing waits longer
than one step of the loop, at most ``FLUSH_BYTES`` wait, and the order of the bytes never changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

# Writes waiting are sent at once past this size, and a write this large is sent as it is, not
# copied. A 1,000-row answer (about 120 KB) still leaves with its head.
FLUSH_BYTES = 1 << 20


class CoalescedWrites(asyncio.Transport):
    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.transport = transport
        self.loop = loop
        self.waiting: list[bytes] = []
        self.waiting_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if len(data) >= FLUSH_BYTES:
            self.flush()
            self.transport.write(data)
            return
        if not self.waiting:
            self.loop.call_soon(self.flush)
        self.waiting.append(data if isinstance(data, bytes) else bytes(data))  # the caller may reuse its buffer
        self.waiting_bytes += len(data)
        if self.waiting_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Send the writes waiting, in one ``send()``."""
        waiting = self.waiting
        if not waiting:
            return
        self.waiting, self.waiting_bytes = [], 0
        self.transport.write(waiting[0] if len(waiting) == 1 else b"".join(waiting))

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)
