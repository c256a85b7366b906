"""(3w) The service's protocol with a response's head and body written apart, as uvicorn writes them.

What ``app.coalesced_writes`` earns: started with ``--http bench.apps.separate_writes:SeparateWritesProtocol``.
"""

from __future__ import annotations

import asyncio

from app.server_protocol import GuardedHttpToolsProtocol


class SeparateWritesProtocol(GuardedHttpToolsProtocol):
    def response_transport(self) -> asyncio.Transport:
        return self.transport
