"""tritonclient, a client no one here wrote, against the real server over HTTP."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from car_evaluation_model import __version__ as model_version
from car_evaluation_model.config.core import config
from devtools.service import RunningServer, running_server
from tests.conftest import API, ARTICLE_ROW
from tests.inference_protocol.clients import ALL_CARS

MODEL = "car-evaluation"
CLASSES = list(config.model.classes)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("v2") / "server.log") as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[triton.InferenceServerClient]:
    connection = triton.InferenceServerClient(url=server.base_url.removeprefix("http://"))
    yield connection
    connection.close()


def infer_inputs(frame: pd.DataFrame, *, binary: bool) -> list[triton.InferInput]:
    inputs = []
    for name in config.model.feature_names:
        values = frame[name].to_numpy(dtype=object).reshape(-1, 1)
        tensor = triton.InferInput(name, list(values.shape), "BYTES")
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def api_v1_answer(server: RunningServer, rows: list[dict[str, Any]]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.base_url}{API}/predict",
        data=json.dumps({"inputs": rows}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def test_health_and_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, model_version)
    assert not client.is_model_ready("other")
    server = client.get_server_metadata()
    assert "binary_tensor_data" in server["extensions"]
    metadata = client.get_model_metadata(MODEL)
    assert metadata["versions"] == [model_version]
    assert [tensor["name"] for tensor in metadata["inputs"]] == config.model.feature_names


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_all_cars_over_v2_equal_the_api_v1_answers(
    client: triton.InferenceServerClient, server: RunningServer, binary: bool
) -> None:
    outputs = [
        triton.InferRequestedOutput("predict", binary_data=binary),
        triton.InferRequestedOutput("predict_proba", binary_data=binary),
    ]
    result = client.infer(MODEL, infer_inputs(ALL_CARS, binary=binary), outputs=outputs, request_id="all-cars")
    expected = api_v1_answer(server, ALL_CARS.to_dict("records"))  # type: ignore[arg-type]
    labels = [label.decode() if isinstance(label, bytes) else label for label in result.as_numpy("predict").ravel()]
    assert labels == expected["predictions"]
    probabilities = result.as_numpy("predict_proba")
    assert probabilities.shape == (1728, 4)
    assert probabilities.tolist() == [[row[label] for label in CLASSES] for row in expected["probabilities"]]
    response = result.get_response()
    assert (response["id"], response["model_name"], response["model_version"]) == ("all-cars", MODEL, model_version)


def test_the_default_request_is_binary_both_ways(client: triton.InferenceServerClient) -> None:
    frame = pd.DataFrame([ARTICLE_ROW]).astype(str)
    result = client.infer(MODEL, infer_inputs(frame, binary=True))
    assert result.as_numpy("predict").ravel().tolist() == [b"vgood"]
    assert all("binary_data_size" in output["parameters"] for output in result.get_response()["outputs"])


def test_a_bad_value_is_an_error_the_client_reads(client: triton.InferenceServerClient) -> None:
    frame = pd.DataFrame([{**ARTICLE_ROW, "lug_boot": "huge"}]).astype(str)
    with pytest.raises(InferenceServerException) as raised:
        client.infer(MODEL, infer_inputs(frame, binary=True))
    assert raised.value.status() == "400"
    message = raised.value.message()
    assert "lug_boot has the value 'huge'" in message
    assert "small, med, big" in message


def test_an_unknown_model_is_a_404_the_client_reads(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata("other")
    assert raised.value.status() == "404"
    assert "unknown model 'other'" in raised.value.message()


def test_requested_outputs_only(client: triton.InferenceServerClient) -> None:
    frame = pd.DataFrame([ARTICLE_ROW] * 3).astype(str)
    outputs = [triton.InferRequestedOutput("predict_proba", binary_data=False)]
    result = client.infer(MODEL, infer_inputs(frame, binary=False), outputs=outputs)
    assert [output["name"] for output in result.get_response()["outputs"]] == ["predict_proba"]
    assert result.as_numpy("predict") is None
    np.testing.assert_array_equal(result.as_numpy("predict_proba").argmax(axis=1), [3, 3, 3])


def test_the_server_log_has_no_traceback(server: RunningServer) -> None:
    assert "Traceback" not in server.logs()
