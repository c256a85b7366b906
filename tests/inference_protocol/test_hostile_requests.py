"""No body, however hostile, gets anything but a decoded request or a 400 ApiError."""

from __future__ import annotations

import json
import struct
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import ApiError
from app.inference_protocol import InferRequest, decode_infer_request
from tests.inference_protocol.clients import ALL_CARS, FEATURES, triton_request

MAX_ROWS = 50


def decoded_or_refused(body: bytes, header_length: str | None) -> InferRequest | None:
    """The decoded request (None when refused), checking that a refusal is a 400 with a message."""
    try:
        request = decode_infer_request(body, header_length, max_rows=MAX_ROWS)
    except ApiError as error:
        refusal = error
    else:
        assert 1 <= len(request.inputs.rows()) <= MAX_ROWS
        assert all(list(row) == FEATURES for row in request.inputs.rows())
        return request
    assert refusal.status_code == 400
    assert refusal.message
    return None


json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)
huge_or_negative = st.integers(min_value=-(2**70), max_value=2**70)
parameters = st.fixed_dictionaries(
    {},
    optional={
        "binary_data_size": huge_or_negative | json_values,
        "content_type": st.sampled_from(["str", "pd_json", "np"]) | json_values,
        "binary_data": json_values,
    },
)
tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(FEATURES) | st.text(max_size=8),
        "shape": st.lists(huge_or_negative | st.integers(0, 3), max_size=3) | json_values,
        "datatype": st.sampled_from(["BYTES", "FP32"]) | json_values,
    },
    optional={
        "data": st.lists(st.sampled_from(["low", "2", "more", "big"]) | json_values, max_size=4) | json_values,
        "parameters": parameters | json_values,
    },
)
requests = st.fixed_dictionaries(
    {"inputs": st.lists(tensors, max_size=7) | json_values},
    optional={
        "id": st.text(max_size=8) | json_values,
        "parameters": parameters,
        "outputs": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["predict", "predict_proba", "x"])}, optional={"parameters": parameters}
            ),
            max_size=3,
        )
        | json_values,
    },
)


@given(st.binary(max_size=256), st.none() | st.text(max_size=6) | st.integers(-1, 300).map(str))
def test_any_bytes_with_any_header(body: bytes, header_length: str | None) -> None:
    decoded_or_refused(body, header_length)


@given(requests, st.binary(max_size=64), st.booleans())
def test_any_request_shape_with_any_binary_tail(request: dict[str, Any], tail: bytes, with_header: bool) -> None:
    header = dumps(request)
    if with_header:
        decoded_or_refused(header + tail, str(len(header)))
    else:
        decoded_or_refused(header, None)


@given(st.integers(0, 200), st.binary(max_size=16), st.integers(0, 300))
def test_tritonclient_binary_body_spoiled_anywhere(position: int, junk: bytes, header_shift: int) -> None:
    body, header_length = triton_request(ALL_CARS.head(3), binary=True)
    assert header_length is not None
    spoiled = body[: int(header_length) + position] + junk + body[int(header_length) + position + len(junk) :]
    decoded_or_refused(spoiled, str(max(0, int(header_length) - 150 + header_shift)))


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": [{"name": "buying", "shape": [1], "datatype": "BYTES", "data": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}]}",
        b'{"parameters": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b', "inputs": []}',
        b"[" * 1_000_000,
    ],
    ids=["deep data", "deep parameters", "deep body"],
)
def test_deep_nesting_is_refused(body: bytes) -> None:
    assert decoded_or_refused(body, None) is None


def one_car_request(*, binary: bool) -> dict[str, Any]:
    body, header_length = triton_request(ALL_CARS.head(1), binary=binary)
    request: dict[str, Any] = orjson.loads(body[: int(header_length)] if header_length else body)
    return request


def dumps(request: dict[str, Any]) -> bytes:
    # The standard library writes integers of any size, which orjson refuses to.
    return json.dumps(request).encode()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (10**18, f"input 'buying' has {10**18} rows; at most {MAX_ROWS} rows per request"),
        (2**63 - 1, f"input 'buying' has {2**63 - 1} rows; at most {MAX_ROWS} rows per request"),
        # orjson reads integers beyond 64 bits as floats, which no shape accepts.
        (2**64, "invalid inference request: inputs[0].shape[0]: Input should be a valid integer"),
        (2**200, "invalid inference request: inputs[0].shape[0]: Input should be a valid integer"),
    ],
    ids=["10**18", "2**63-1", "2**64", "2**200"],
)
def test_huge_shapes_are_refused_before_anything_is_allocated(rows: int, message: str) -> None:
    request = one_car_request(binary=False)
    request["inputs"][0]["shape"] = [rows, 1]
    with pytest.raises(ApiError) as caught:
        decode_infer_request(dumps(request), None, max_rows=MAX_ROWS)
    assert caught.value.message == message


@pytest.mark.parametrize("size", [-1, 2**63, 2**100, True, 1.5, "8"])
def test_hostile_binary_data_size_is_refused(size: object) -> None:
    request = one_car_request(binary=True)
    request["inputs"][0]["parameters"]["binary_data_size"] = size
    header = dumps(request)
    with pytest.raises(ApiError) as caught:
        decode_infer_request(header + b"\0" * 64, str(len(header)), max_rows=MAX_ROWS)
    assert caught.value.message.startswith("input 'buying': binary_data_size ")


def test_a_tail_of_empty_elements_is_refused_at_the_first_element_too_many() -> None:
    # Each element costs at least its 4-byte length, and the count is checked as they are cut.
    body = one_car_request(binary=False)
    for item in body["inputs"]:
        item.pop("data")
        item["parameters"] = {"binary_data_size": 4 * 100_000}
    header = orjson.dumps(body)
    tail = struct.pack("<I", 0) * 100_000 * len(FEATURES)
    with pytest.raises(ApiError) as caught:
        decode_infer_request(header + tail, str(len(header)), max_rows=MAX_ROWS)
    assert caught.value.message.startswith("input 'buying': its binary data holds more than the 1 elements")
