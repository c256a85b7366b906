"""Decoding infer requests as tritonclient and MLServer's PandasCodec build them, and refusing bad ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from tritonclient.http import InferRequestedOutput

from app.inference_protocol import (
    InferRequest,
    RequestedOutput,
    decode_infer_request,
)
from car_evaluation_model import make_prediction
from tests.inference_protocol.clients import ALL_CARS, triton_request

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = ALL_CARS.sample(7, random_state=3).reset_index(drop=True)
MAX_ROWS = 10_000


def decode(body: bytes, header_length: str | None = None, max_rows: int = MAX_ROWS) -> InferRequest:
    return decode_infer_request(body, header_length, max_rows=max_rows)


def records(frame: Any) -> list[dict[str, Any]]:
    return list(frame.to_dict(orient="records"))


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("column_shape", [True, False], ids=["[N,1]", "[N]"])
def test_tritonclient_request_decodes_to_its_rows(binary: bool, column_shape: bool) -> None:
    body, header_length = triton_request(SAMPLE, binary=binary, column_shape=column_shape, request_id="r-1")
    assert (header_length is not None) == binary
    request = decode(body, header_length)
    assert request.inputs.rows() == records(SAMPLE)
    assert request.id == "r-1"
    # With no outputs named, tritonclient asks for every output in binary (binary_data_output).
    assert request.outputs == (RequestedOutput("predict", True), RequestedOutput("predict_proba", True))


def test_tritonclient_requested_outputs_keep_their_order_and_binary_flags() -> None:
    outputs = [InferRequestedOutput("predict_proba", binary_data=False), InferRequestedOutput("predict")]
    body, header_length = triton_request(SAMPLE, binary=True, outputs=outputs)
    assert decode(body, header_length).outputs == (
        RequestedOutput("predict_proba", False),
        RequestedOutput("predict", True),
    )


def test_binary_data_output_is_the_default_and_binary_data_overrides_it() -> None:
    body = orjson.loads(triton_request(SAMPLE, binary=False)[0])
    body["outputs"] = [{"name": "predict"}, {"name": "predict_proba", "parameters": {"binary_data": False}}]
    assert decode(orjson.dumps(body)).outputs == (
        RequestedOutput("predict", True),
        RequestedOutput("predict_proba", False),
    )
    del body["parameters"]
    assert decode(orjson.dumps(body)).outputs == (
        RequestedOutput("predict", False),
        RequestedOutput("predict_proba", False),
    )


def test_data_nested_like_its_shape_is_accepted() -> None:
    body = orjson.loads(triton_request(SAMPLE, binary=False)[0])
    for tensor in body["inputs"]:
        tensor["data"] = [[value] for value in tensor["data"]]
    assert decode(orjson.dumps(body)).inputs.rows() == records(SAMPLE)


@pytest.mark.parametrize("fixture", ["mlserver_pandas_request.json", "mlserver_pandas_json_request.json"])
def test_mlserver_pandas_codec_body_decodes_to_the_same_answers(fixture: str) -> None:
    request = decode((FIXTURES / fixture).read_bytes())
    expected = [
        {"buying": "low", "maint": "low", "doors": "4", "persons": "more", "lug_boot": "big", "safety": "high"},
        {"buying": "vhigh", "maint": "med", "doors": "2", "persons": "2", "lug_boot": "small", "safety": "low"},
        {"buying": "med", "maint": "high", "doors": "5more", "persons": "4", "lug_boot": "med", "safety": "med"},
    ]
    assert make_prediction(input_data=request.inputs) == make_prediction(input_data=expected)
    assert request.id is None
    assert [output.name for output in request.outputs] == ["predict", "predict_proba"]


def test_mlserver_pd_json_column_keeps_its_json_values() -> None:
    # PandasCodec sends a column holding integers as JSON text; 4 reaches the model package as 4.
    request = decode((FIXTURES / "mlserver_pandas_json_request.json").read_bytes())
    assert [row["doors"] for row in request.inputs.rows()] == [4, 2, "5more"]
    assert [row["persons"] for row in request.inputs.rows()] == ["more", 2, 4]
