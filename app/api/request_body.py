"""Read a request body within the size limit, decoding ``Content-Encoding`` when it is gzip or deflate.

The limit applies twice: to the bytes on the wire (a declared ``Content-Length`` over it is
refused before anything is read) and to the decoded bytes, so that a small compressed body
cannot expand into a large one (a "gzip bomb"). Decoding stops one byte past the limit.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from typing import Final

from starlette.requests import Request

from app.errors import ApiError
from app.request_state import combined_header, header

# Content-Encoding -> zlib's wbits: 31 reads a gzip member, 15 a zlib stream (HTTP's "deflate").
DECODERS: Final = {"gzip": 31, "deflate": 15}
ENCODINGS: Final = ["identity", *DECODERS]


def body_too_large(limit: int, *, decoded: bool = False) -> ApiError:
    what = "decoded request body" if decoded else "request body"
    return ApiError.single(413, ["body"], f"{what} is larger than the limit of {limit} bytes", "body_too_large")


def content_encoding(request: Request) -> str:
    # Two Content-Encoding lines are one list of codings, as "gzip, gzip" is: refused, not half read.
    encoding = (combined_header(request.scope, b"content-encoding") or "identity").strip().lower()
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
    return b"".join([chunk async for chunk in body_chunks(request, limit)])


async def body_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body, decoded, as it arrives; ``ApiError`` 413, 415 or 400 as soon as it cannot be had within ``limit``."""
    declared = header(request.scope, b"content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    encoding = content_encoding(request)
    decoder = None if encoding == "identity" else zlib.decompressobj(wbits=DECODERS[encoding])
    received = decoded = 0
    async for chunk in request.stream():  # raises ClientDisconnect for a client that went away
        received += len(chunk)
        if received > limit:
            raise body_too_large(limit)
        if decoder is None:
            yield chunk
            continue
        pending = chunk
        while pending:  # at most one byte past the limit is decoded
            part = _decompress(decoder, pending, encoding, limit - decoded + 1)
            decoded += len(part)
            if decoded > limit:
                raise body_too_large(limit, decoded=True)
            if part:
                yield part
            pending = decoder.unconsumed_tail
    if decoder is not None and (not decoder.eof or decoder.unused_data):
        raise ApiError.single(400, ["body"], f"the body is not one complete {encoding} stream", "body_not_decodable")


def _decompress(decoder: zlib._Decompress, data: bytes, encoding: str, max_length: int) -> bytes:
    try:
        part: bytes = decoder.decompress(data, max_length)
    except zlib.error as error:
        raise ApiError.single(
            400, ["body"], f"the body is not valid {encoding} data: {error}", "body_not_decodable"
        ) from None
    return part
