"""Read a request body within the size limit, decoding ``Content-Encoding`` when it is gzip or deflate.

The limit applies twice: to the bytes on the wire (a declared ``Content-Length`` over it is
refused before anything is read) and to the decoded bytes, so that a small compressed body
cannot expand into a large one (a "gzip bomb"). Decoding stops one byte past the limit.
"""

from __future__ import annotations

import zlib
from typing import Final

from starlette.requests import Request

from app.errors import ApiError
from app.request_state import header

# Content-Encoding -> zlib's wbits: 31 reads a gzip member, 15 a zlib stream (HTTP's "deflate").
DECODERS: Final = {"gzip": 31, "deflate": 15}
ENCODINGS: Final = ["identity", *DECODERS]


def body_too_large(limit: int, *, decoded: bool = False) -> ApiError:
    what = "decoded request body" if decoded else "request body"
    return ApiError.single(413, ["body"], f"{what} is larger than the limit of {limit} bytes", "body_too_large")


def content_encoding(request: Request) -> str:
    encoding = (header(request.scope, b"content-encoding") or "identity").strip().lower()
    if encoding not in ENCODINGS:
        raise ApiError.single(
            415,
            ["header", "content-encoding"],
            f"Content-Encoding {encoding!r} is not supported; use one of {', '.join(ENCODINGS)}",
            "unsupported_content_encoding",
            field="content-encoding",
            input=encoding[:100],
            allowed=ENCODINGS,
        )
    return encoding


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, decoded; ``ApiError`` 413, 415 or 400 when it cannot be had within ``limit``."""
    declared = header(request.scope, b"content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    encoding = content_encoding(request)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():  # raises ClientDisconnect for a client that went away
        received += len(chunk)
        if received > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    return body if encoding == "identity" else decode(body, encoding, limit)


def decode(body: bytes, encoding: str, limit: int) -> bytes:
    decoder = zlib.decompressobj(wbits=DECODERS[encoding])
    try:
        decoded = decoder.decompress(body, limit + 1)
    except zlib.error as error:
        raise ApiError.single(
            400, ["body"], f"the body is not valid {encoding} data: {error}", "body_not_decodable"
        ) from None
    if len(decoded) > limit:
        raise body_too_large(limit, decoded=True)
    if not decoder.eof or decoder.unused_data:
        raise ApiError.single(400, ["body"], f"the body is not one complete {encoding} stream", "body_not_decodable")
    return decoded
