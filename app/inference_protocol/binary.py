"""The binary tensor data extension: a JSON header, then each binary tensor's bytes, in order.

Triton's ``docs/protocol/extension_binary_data.md``: ``Inference-Header-Content-Length`` gives the
length of the JSON; a BYTES element is a 4-byte little-endian unsigned length then its bytes; other
types are packed little-endian, row-major.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

from app.inference_protocol.errors import bad_request
from car_evaluation_model.processing.validation import shown

JSON_LENGTH_HEADER = "Inference-Header-Content-Length"
_LENGTH_PREFIX = struct.Struct("<I")
_DECIMAL = re.compile(r"[0-9]{1,19}")  # ASCII digits only; str.isdecimal() accepts other scripts' digits


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes | None]:
    """The JSON part and the binary tail (None without the header, when the body is all JSON)."""
    if header_length is None:
        return body, None
    if not _DECIMAL.fullmatch(header_length):
        raise bad_request(f"{JSON_LENGTH_HEADER} must be a non-negative integer, not {shown(header_length)}")
    json_length = int(header_length)
    if json_length == 0:
        # Triton's "raw binary request" (no JSON at all) only suits models with one input.
        raise bad_request(
            f"{JSON_LENGTH_HEADER}: 0 (a raw binary request) is not supported: this model has several inputs"
        )
    if json_length > len(body):
        raise bad_request(f"{JSON_LENGTH_HEADER} is {json_length} but the body has only {len(body)} bytes")
    return body[:json_length], body[json_length:]


def decode_bytes_elements(buffer: bytes, tensor: str, count: int) -> list[str]:
    """The ``count`` UTF-8 strings of a BYTES tensor's binary data, refusing any malformed length.

    The loop runs at most ``count`` times (a shape already held to the row limit), whatever the bytes say.
    """
    unpack_length, prefix = _LENGTH_PREFIX.unpack_from, _LENGTH_PREFIX.size
    values: list[str] = []
    offset, end, length = 0, len(buffer), 0
    try:
        for row in range(count):
            if offset == end:
                raise bad_request(f"input {tensor!r}: its binary data holds {row} elements, its shape {count}")
            if end - offset < prefix:
                raise bad_request(
                    f"input {tensor!r}, row {row}: the binary data ends inside the element's 4-byte length"
                )
            (length,) = unpack_length(buffer, offset)
            offset += prefix
            if length > end - offset:
                raise bad_request(
                    f"input {tensor!r}, row {row}: the element's length {length} runs past the end of "
                    f"the tensor's binary data ({end - offset} bytes left)"
                )
            values.append(buffer[offset : offset + length].decode())
            offset += length
    except UnicodeDecodeError:
        value = buffer[offset : offset + length]
        raise bad_request(f"input {tensor!r}, row {len(values)}: {shown(value)} is not valid UTF-8") from None
    if offset != end:
        raise bad_request(
            f"input {tensor!r}: its binary data holds more than the {count} elements its shape gives "
            f"({end - offset} bytes left over)"
        )
    return values


def join_bytes_elements(elements: Iterable[bytes]) -> bytes:
    return b"".join(_LENGTH_PREFIX.pack(len(element)) + element for element in elements)


def pack_fp64(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}d", *values)
