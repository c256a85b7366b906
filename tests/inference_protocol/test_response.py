"""Responses encoded here, parsed by tritonclient's own InferResult, hold the model's answers."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from tritonclient.http import InferRequestedOutput

from app.inference_protocol import (
    EncodedResponse,
    InferRequest,
    RequestedOutput,
    decode_infer_request,
    encode_infer_response,
)
from app.inference_protocol.schemas import InferenceResponse
from car_evaluation_model import Columns, make_prediction
from car_evaluation_model import __version__ as model_version
from tests.inference_protocol.clients import ALL_CARS, CLASSES, FEATURES, triton_request, triton_result


def answer(request: InferRequest) -> EncodedResponse:
    result = make_prediction(input_data=request.inputs)
    assert result["predictions"] is not None
    assert result["probabilities"] is not None
    return encode_infer_response(
        request, result["predictions"], result["probabilities"], model_version=result["version"]
    )


def expected(frame: pd.DataFrame) -> tuple[list[str], np.ndarray[Any, Any]]:
    result = make_prediction(input_data=frame)
    assert result["predictions"] is not None
    assert result["probabilities"] is not None
    return result["predictions"], np.array([[row[label] for label in CLASSES] for row in result["probabilities"]])


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_every_car_round_trips_through_tritonclient(binary: bool) -> None:
    outputs = [InferRequestedOutput(name, binary_data=binary) for name in ("predict", "predict_proba")]
    request = decode_infer_request(*triton_request(ALL_CARS, binary=binary, outputs=outputs), max_rows=len(ALL_CARS))
    encoded = answer(request)
    assert (encoded.header_length is not None) == binary
    assert encoded.content_type == ("application/octet-stream" if binary else "application/json")
    result = triton_result(encoded)
    labels, probabilities = expected(ALL_CARS)
    predict = result.as_numpy("predict")
    assert predict.shape == (len(ALL_CARS), 1)
    # Binary BYTES come back as bytes, JSON ones as str: tritonclient leaves the decoding to the caller.
    assert [value.decode() if binary else value for value in predict[:, 0]] == labels
    proba = result.as_numpy("predict_proba")
    assert proba.dtype == np.float64
    assert proba.shape == (len(ALL_CARS), len(CLASSES))
    assert np.array_equal(proba, probabilities)  # FP64 in both encodings: nothing is rounded
    assert set(labels) == set(CLASSES)


def test_model_name_version_and_id_are_given() -> None:
    request = decode_infer_request(*triton_request(ALL_CARS.head(2), binary=True, request_id="abc"), max_rows=10)
    response = triton_result(answer(request)).get_response()
    assert (response["model_name"], response["model_version"], response["id"]) == (
        "car-evaluation",
        model_version,
        "abc",
    )


def test_no_id_is_made_up() -> None:
    request = decode_infer_request(*triton_request(ALL_CARS.head(2), binary=False), max_rows=10)
    assert "id" not in triton_result(answer(request)).get_response()


def test_only_the_requested_output_is_answered_in_the_requested_encoding() -> None:
    outputs = [InferRequestedOutput("predict_proba", binary_data=False)]
    request = decode_infer_request(*triton_request(ALL_CARS.head(3), binary=True, outputs=outputs), max_rows=10)
    encoded = answer(request)
    assert encoded.header_length is None
    body = orjson.loads(encoded.body)
    assert [output["name"] for output in body["outputs"]] == ["predict_proba"]
    assert body["outputs"][0]["shape"] == [3, 4]
    assert np.array_equal(np.array(body["outputs"][0]["data"]).reshape(3, 4), expected(ALL_CARS.head(3))[1])


def test_binary_and_json_outputs_mix_with_the_binary_sizes_given() -> None:
    request = InferRequest(
        id=None,
        inputs=Columns({name: ALL_CARS[name].head(2).tolist() for name in FEATURES}),
        outputs=(RequestedOutput("predict", binary=True), RequestedOutput("predict_proba", binary=False)),
    )
    encoded = answer(request)
    assert encoded.header_length is not None
    header = orjson.loads(encoded.body[: encoded.header_length])
    predict, proba = header["outputs"]
    assert predict["parameters"] == {"binary_data_size": len(encoded.body) - encoded.header_length}
    assert "data" not in predict
    assert "parameters" not in proba
    assert len(proba["data"]) == 8
    assert triton_result(encoded).as_numpy("predict")[:, 0].tolist() == [
        label.encode() for label in expected(ALL_CARS.head(2))[0]
    ]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_json_part_matches_the_response_schema(binary: bool) -> None:
    request = decode_infer_request(*triton_request(ALL_CARS.head(2), binary=binary, request_id="x"), max_rows=10)
    encoded = answer(request)
    header = encoded.body if encoded.header_length is None else encoded.body[: encoded.header_length]
    InferenceResponse.model_validate_json(header)
