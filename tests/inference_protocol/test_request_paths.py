"""The one-pass path for the usual infer request gives exactly the answers of the full checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.inference_protocol import ProtocolError
from app.inference_protocol.request import _checked_request, _usual_request
from tests.inference_protocol.clients import ALL_CARS, FEATURES

MAX_ROWS = 3


def usual_body(rows: int, *, column_shape: bool = True) -> dict[str, Any]:
    """What KServe's SDK, curl users and bench/ send: one BYTES tensor per feature, nothing else."""
    cars = ALL_CARS.sample(rows, random_state=rows)
    shape = [rows, 1] if column_shape else [rows]
    return {
        "inputs": [
            {"name": name, "shape": shape, "datatype": "BYTES", "data": cars[name].tolist()} for name in FEATURES
        ]
    }


@pytest.mark.parametrize("column_shape", [True, False], ids=["[N,1]", "[N]"])
def test_the_usual_request_takes_the_one_pass_path(column_shape: bool) -> None:
    body = {"id": "7", **usual_body(2, column_shape=column_shape)}
    usual = _usual_request(body, MAX_ROWS)
    assert usual is not None
    assert usual == _checked_request(body, None, MAX_ROWS)


@pytest.mark.parametrize("shape", [[True], [1.0], [True, 1], [1, 1.0], [1, True]])
def test_a_shape_that_only_compares_equal_is_refused_by_both_paths(shape: list[Any]) -> None:
    body = usual_body(1)
    body["inputs"][2]["shape"] = shape
    assert _usual_request(body, MAX_ROWS) is None
    with pytest.raises(ProtocolError, match="shape"):
        _checked_request(body, None, MAX_ROWS)


# Values that the protocol's schema or the tensor checks treat differently from the usual ones.
ODD_VALUES = [None, True, 1, 1.0, "x", "", [], {}, [1], {"a": 1}, [[1]]]
TENSOR_CHANGES = st.sampled_from(["name", "shape", "datatype", "data", "parameters", "extra"])
TOP_CHANGES = st.sampled_from(["id", "parameters", "outputs", "inputs", "extra"])


@st.composite
def usual_looking_requests(draw: st.DrawFn) -> dict[str, Any]:
    """Usual requests with a few parts swapped for odd values: each path must accept or refuse them alike."""
    body = usual_body(draw(st.integers(1, MAX_ROWS + 1)), column_shape=draw(st.booleans()))
    inputs = body["inputs"]
    odd = st.sampled_from(ODD_VALUES) | st.sampled_from([*FEATURES, "BYTES", [1, 1], [2], [1, 2], [True, 1], [1.0]])
    for _ in range(draw(st.integers(0, 3))):
        tensor = inputs[draw(st.integers(0, len(inputs) - 1))]
        key = draw(TENSOR_CHANGES)
        if key == "data" and isinstance(tensor.get("data"), list) and draw(st.booleans()):
            tensor["data"] = [*tensor["data"][:-1], draw(odd)]  # one odd element
        else:
            tensor[key] = draw(odd)
    for _ in range(draw(st.integers(0, 2))):
        key = draw(TOP_CHANGES)
        if key == "inputs" and inputs:
            inputs.pop() if draw(st.booleans()) else inputs.append(dict(inputs[0]))
        elif key != "inputs":
            body[key] = draw(odd)
    return body


@settings(max_examples=1000, deadline=None)
@given(usual_looking_requests())
def test_the_one_pass_path_answers_exactly_as_the_full_checks(body: dict[str, Any]) -> None:
    as_sent = json.dumps(body)
    usual = _usual_request(body, MAX_ROWS)
    try:
        checked = _checked_request(body, None, MAX_ROWS)
    except ProtocolError:
        assert usual is None, "the one-pass path accepted a request that the full checks refuse"
        return
    finally:
        assert json.dumps(body) == as_sent  # neither path edits the request
    assert usual is None or usual == checked
