"""Every refusal of the protocol layer is a 400 whose message names the tensor, the row and the value.

The values themselves are checked by the model package, as on every input path
(tests/api/test_input_paths_agree.py).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from app.errors import INFERENCE_PROTOCOL, ApiError
from app.inference_protocol import JSON_LENGTH_HEADER, decode_infer_request
from tests.inference_protocol.clients import ALL_CARS, triton_request

TWO_CARS = ALL_CARS.iloc[[0, 1727]].reset_index(drop=True)
INPUT_LIST = "the inputs are buying, maint, doors, persons, lug_boot, safety"


def json_request() -> dict[str, Any]:
    """tritonclient's JSON-mode body for two cars, as a dict to spoil."""
    body: dict[str, Any] = orjson.loads(triton_request(TWO_CARS, binary=False)[0])
    return body


def tensor(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in body["inputs"] if item["name"] == name)


def spoiled(change: Callable[[dict[str, Any]], object]) -> tuple[bytes, None]:
    body = json_request()
    change(body)
    return orjson.dumps(body), None


def binary_request(change: Callable[[bytearray, int], bytes | bytearray]) -> tuple[bytes, str | None]:
    """tritonclient's binary body for two cars, with its tail (after the JSON) spoiled by ``change``."""
    body, header_length = triton_request(TWO_CARS, binary=True)
    assert header_length is not None
    return bytes(change(bytearray(body), int(header_length))), header_length


def unspoiled_binary_request(header_length: str | None) -> tuple[bytes, str | None]:
    """tritonclient's binary body for two cars, sent with another Inference-Header-Content-Length."""
    return triton_request(TWO_CARS, binary=True)[0], header_length


def with_binary_buying(data: bytes) -> tuple[bytes, str]:
    """The JSON request with buying's data replaced by ``data`` as its binary data."""
    body = json_request()
    tensor(body, "buying").update(data=None, parameters={"binary_data_size": len(data)})
    header = orjson.dumps(body)
    return header + data, str(len(header))


def set_length(body: bytearray, at: int, length: int) -> bytearray:
    struct.pack_into("<I", body, at, length)
    return body


def refusal(body: bytes, header_length: str | None, max_rows: int = 100) -> str:
    with pytest.raises(ApiError) as caught:
        decode_infer_request(body, header_length, max_rows=max_rows)
    assert caught.value.status_code == 400
    assert orjson.loads(INFERENCE_PROTOCOL.render(caught.value)[1]) == {"error": caught.value.message}
    return caught.value.message


CASES: dict[str, tuple[tuple[bytes, str | None], list[str]]] = {
    "missing tensor": (
        spoiled(lambda body: body["inputs"].pop()),
        ["missing input 'safety'", INPUT_LIST],
    ),
    "unknown tensor": (
        spoiled(lambda body: tensor(body, "doors").update(name="colour")),
        ["unknown input 'colour'", INPUT_LIST],
    ),
    "tensor given twice": (
        spoiled(lambda body: body["inputs"].append(tensor(body, "maint"))),
        ["input 'maint' is given twice"],
    ),
    "wrong datatype": (
        spoiled(lambda body: tensor(body, "doors").update(datatype="INT64", data=[2, 4])),
        ["input 'doors' has datatype 'INT64'; it must be BYTES"],
    ),
    "shape not a column": (
        spoiled(lambda body: tensor(body, "buying").update(shape=[1, 2])),
        ["input 'buying' has shape [1, 2]; it must be [N] or [N, 1]"],
    ),
    "negative shape": (
        spoiled(lambda body: tensor(body, "buying").update(shape=[-2, 1])),
        ["input 'buying' has shape [-2, 1]"],
    ),
    "shape and data lengths differ": (
        spoiled(lambda body: tensor(body, "lug_boot").update(shape=[3, 1])),
        ["input 'lug_boot' has shape [3, 1], so 3 elements, but its data has 2"],
    ),
    "tensors of different lengths": (
        spoiled(lambda body: tensor(body, "maint").update(shape=[1, 1], data=["low"])),
        ["input 'maint' has 1 rows but 'buying' has 2"],
    ),
    "no rows": (
        spoiled(lambda body: [item.update(shape=[0, 1], data=[]) for item in body["inputs"]]),
        ["no rows"],
    ),
    "too many rows": (
        spoiled(lambda body: tensor(body, "buying").update(shape=[101, 1])),
        ["input 'buying' has 101 rows; at most 100 rows per request"],
    ),
    "nested element of the wrong size": (
        spoiled(lambda body: tensor(body, "persons").update(data=[["2"], ["4", "more"]])),
        ["input 'persons', row 1: expected a one-element list, got ['4', 'more']"],
    ),
    "no data": (
        spoiled(lambda body: tensor(body, "safety").pop("data")),
        ["input 'safety' has no data"],
    ),
    "unsupported content type": (
        spoiled(lambda body: tensor(body, "safety").update(parameters={"content_type": "base64"})),
        ["input 'safety' has content_type 'base64'; supported: str, pd_json or none"],
    ),
    "pd_json element not JSON": (
        spoiled(lambda body: tensor(body, "doors").update(parameters={"content_type": "pd_json"})),
        ["input 'doors', row 1: '5more' is not valid JSON (pd_json)"],
    ),
    "id with a NUL": (
        spoiled(lambda body: body.update(id="a\u0000b")),
        ["id: Value error, must be at most 256 printable characters, no control characters"],
    ),
    "id too long for the ledger": (
        spoiled(lambda body: body.update(id="€" * 257)),
        ["id: Value error, must be at most 256 printable characters"],
    ),
    "unknown output": (
        spoiled(lambda body: body.update(outputs=[{"name": "probabilities"}])),
        ["unknown output 'probabilities'; the outputs are predict, predict_proba"],
    ),
    "output requested twice": (
        spoiled(lambda body: body.update(outputs=[{"name": "predict"}, {"name": "predict"}])),
        ["output 'predict' is requested twice"],
    ),
    "binary_data not a boolean": (
        spoiled(lambda body: body.update(outputs=[{"name": "predict", "parameters": {"binary_data": "yes"}}])),
        ["output 'predict': the parameter binary_data must be true or false, not 'yes'"],
    ),
    "classification extension": (
        spoiled(lambda body: body.update(outputs=[{"name": "predict", "parameters": {"classification": 2}}])),
        ["output 'predict': the parameter classification is not supported"],
    ),
    "shared memory extension": (
        spoiled(lambda body: tensor(body, "buying").update(parameters={"shared_memory_region": "r"})),
        ["input 'buying': the parameter shared_memory_region is not supported"],
    ),
    "shape not integers": (
        spoiled(lambda body: tensor(body, "buying").update(shape=["2", 1])),
        ["invalid inference request: inputs[0].shape[0]: Input should be a valid integer"],
    ),
    "not JSON": ((b'{"inputs": [', None), ["the request is not valid JSON"]),
    "not an object": ((b"[]", None), ["the request must be a JSON object"]),
    "binary data without the header": (
        unspoiled_binary_request(None),
        ["the request is not valid JSON"],
    ),
    "binary_data_size without the header": (
        spoiled(lambda body: tensor(body, "buying").update(data=None, parameters={"binary_data_size": 0})),
        [f"input 'buying' has binary_data_size but the request has no {JSON_LENGTH_HEADER} header"],
    ),
    "header length larger than the body": (
        unspoiled_binary_request("100000"),
        [f"{JSON_LENGTH_HEADER} is 100000 but the body has only"],
    ),
    "header length not a number": (
        unspoiled_binary_request("12a"),
        [f"{JSON_LENGTH_HEADER} must be a non-negative integer, not '12a'"],
    ),
    "header length of a raw binary request": (
        unspoiled_binary_request("0"),
        [f"{JSON_LENGTH_HEADER}: 0 (a raw binary request) is not supported"],
    ),
    "element length past the end": (
        binary_request(lambda body, start: set_length(body, start + 4 + len("low"), 1000)),
        ["input 'buying', row 1: the element's length 1000 runs past the end of the tensor's binary data"],
    ),
    "element length cut short": (
        binary_request(lambda body, start: body[: start + 2]),
        ["input 'buying': binary_data_size is", "but only 2 bytes of binary data are left"],
    ),
    "element length prefix cut": (
        with_binary_buying(b"\3\0\0\0low\5\0"),
        ["input 'buying', row 1: the binary data ends inside the element's 4-byte length"],
    ),
    "too few elements": (
        with_binary_buying(b"\3\0\0\0low"),
        ["input 'buying': its binary data holds 1 elements, its shape 2"],
    ),
    "binary data left over": (
        binary_request(lambda body, _: body + b"\0\0\0\0"),
        ["4 bytes of binary data follow the inputs' binary data"],
    ),
}


@pytest.mark.parametrize(("request_", "fragments"), CASES.values(), ids=CASES.keys())
def test_bad_request_is_refused_with_a_message_that_says_why(
    request_: tuple[bytes, str | None], fragments: list[str]
) -> None:
    message = refusal(*request_)
    for fragment in fragments:
        assert fragment in message


def test_invalid_utf8_names_the_tensor_row_and_bytes() -> None:
    frame = TWO_CARS.astype(object)
    frame.loc[1, "lug_boot"] = b"\xffbig"  # tritonclient sends bytes objects as they are
    assert "input 'lug_boot', row 1: b'\\xffbig' is not valid UTF-8" in refusal(*triton_request(frame, binary=True))


def test_binary_elements_cut_short_leave_bytes_over() -> None:
    body, header_length = triton_request(TWO_CARS, binary=True)
    # buying's second element claims 2 bytes fewer than it has: 2 bytes are left after the 2 elements.
    spoiled_body = set_length(bytearray(body), int(header_length or 0) + 4 + len("low"), len("vhigh") - 2)
    message = refusal(bytes(spoiled_body), header_length)
    assert "input 'buying'" in message
    assert "more than the 2 elements its shape gives (2 bytes left over)" in message


def test_binary_tensor_shape_mismatch_counts_the_elements() -> None:
    body = json_request()
    for item in body["inputs"]:
        item["shape"][0] = 3
        item.pop("data")
        item["parameters"] = {"binary_data_size": 0}
    header = orjson.dumps(body)
    message = refusal(header, str(len(header)))
    assert "input 'buying': its binary data holds 0 elements, its shape 3" in message


def test_values_in_messages_are_cut_short() -> None:
    body = json_request()
    tensor(body, "buying").update(datatype="X" * 10_000)
    message = refusal(orjson.dumps(body), None)
    assert len(message) < 200


def test_a_shape_nested_a_thousand_deep_is_refused_with_a_bounded_message() -> None:
    body = json_request()
    tensor(body, "buying").update(shape="SHAPE")
    deep_shape = "[" + "[" * 1000 + "2" + "]" * 1000 + ", 1]"
    message = refusal(orjson.dumps(body).replace(b'"SHAPE"', deep_shape.encode()), None)
    assert "inputs[0].shape[0]" in message
    assert len(message) < 300
