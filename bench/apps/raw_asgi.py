"""(2) The floor of HTTP cost: a bare ASGI app that parses the JSON body and answers a constant."""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send

ANSWER = b'{"predictions":["unacc"],"probabilities":[{"unacc":1.0}],"version":"0","errors":null}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] == "POST":
        json.loads(body)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})
