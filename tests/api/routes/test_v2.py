"""The Open Inference Protocol routes, in process: the same routing table and error path as /api/v1."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app import data_plane
from app.api.routes import v2 as v2_route
from car_evaluation_model import ModelArtifactError, make_prediction
from car_evaluation_model import __version__ as model_version
from car_evaluation_model.config.core import config
from tests.conftest import API, ARTICLE_ROW
from tests.inference_protocol.clients import ALL_CARS, triton_request

MODEL = "/v2/models/car-evaluation"
INFER = f"{MODEL}/infer"
FIXTURES = Path(__file__).resolve().parents[2] / "inference_protocol" / "fixtures"


def v2_body(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    inputs = [
        {"name": name, "shape": [len(rows), 1], "datatype": "BYTES", "data": [str(row[name]) for row in rows]}
        for name in config.model.feature_names
    ]
    return {"inputs": inputs, **extra}


def error_of(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    return str(body["error"])


def test_server_metadata_lists_the_binary_extension(client: TestClient) -> None:
    body = client.get("/v2").json()
    assert set(body) == {"name", "version", "extensions"}
    assert "binary_tensor_data" in body["extensions"]


def test_health_bodies(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    for path in (f"{MODEL}/ready", f"{MODEL}/versions/{model_version}/ready"):
        assert client.get(path).json() == {"name": "car-evaluation", "ready": True}


def test_ready_is_503_when_the_model_cannot_load(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ModelArtifactError("car_evaluation_model_v9.pkl was trained with scikit-learn 0.1")

    monkeypatch.setattr(data_plane, "warm_up", broken)
    for path in ("/v2/health/ready", f"{MODEL}/ready"):
        response = client.get(path)
        assert response.status_code == 503
        assert "scikit-learn 0.1" in error_of(response)
    assert client.get("/v2/health/live").status_code == 200


def test_model_metadata_publishes_allowed_values_and_class_order(client: TestClient) -> None:
    for path in (MODEL, f"{MODEL}/versions/{model_version}"):
        body = client.get(path).json()
        assert body["name"] == "car-evaluation"
        assert body["versions"] == [model_version]
        assert [tensor["name"] for tensor in body["inputs"]] == config.model.feature_names
        for tensor, feature in zip(body["inputs"], config.model.features, strict=True):
            assert (tensor["datatype"], tensor["shape"]) == ("BYTES", [-1, 1])
            assert tensor["parameters"]["allowed_values"] == list(feature.values)
        outputs = {tensor["name"]: tensor for tensor in body["outputs"]}
        assert (outputs["predict"]["datatype"], outputs["predict"]["shape"]) == ("BYTES", [-1, 1])
        assert (outputs["predict_proba"]["datatype"], outputs["predict_proba"]["shape"]) == ("FP64", [-1, 4])
        assert outputs["predict_proba"]["parameters"]["classes"] == list(config.model.classes)


@pytest.mark.parametrize("path", ["/v2/models/other", f"{MODEL}/versions/9.9.9", "/v2/models/other/infer"])
def test_unknown_model_or_version_is_404(client: TestClient, path: str) -> None:
    response = client.post(path, json=v2_body([ARTICLE_ROW])) if path.endswith("infer") else client.get(path)
    assert response.status_code == 404
    assert "unknown" in error_of(response)


def test_infer_answers_as_predict_does_and_echoes_the_id(client: TestClient) -> None:
    rows: list[dict[str, Any]] = ALL_CARS.sample(300, random_state=2).to_dict("records")  # type: ignore[assignment]
    for path in (INFER, f"{MODEL}/versions/{model_version}/infer"):
        body = client.post(path, json=v2_body(rows, id="req-7")).json()
        assert (body["id"], body["model_name"], body["model_version"]) == ("req-7", "car-evaluation", model_version)
        expected = make_prediction(input_data=rows)
        outputs = {output["name"]: output for output in body["outputs"]}
        assert outputs["predict"]["data"] == expected["predictions"]
        assert outputs["predict_proba"]["shape"] == [300, 4]
        flat = [p for row in expected["probabilities"] or [] for p in row.values()]
        assert outputs["predict_proba"]["data"] == flat


def test_outputs_select_what_comes_back(client: TestClient) -> None:
    body = client.post(INFER, json=v2_body([ARTICLE_ROW], outputs=[{"name": "predict_proba"}])).json()
    assert [output["name"] for output in body["outputs"]] == ["predict_proba"]


def test_a_body_without_content_type_is_accepted(client: TestClient) -> None:
    body, header_length = triton_request(ALL_CARS.head(3), binary=True)
    headers = {"Inference-Header-Content-Length": str(header_length)}
    response = client.post(INFER, content=body, headers=headers)
    assert "content-type" not in response.request.headers
    assert response.status_code == 200


def test_mlserver_pandas_codec_body_is_answered(client: TestClient) -> None:
    body = (FIXTURES / "mlserver_pandas_request.json").read_bytes()
    response = client.post(INFER, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    sent = orjson.loads(body)
    rows = [
        dict(zip([t["name"] for t in sent["inputs"]], values, strict=True))
        for values in zip(*[t["data"] for t in sent["inputs"]], strict=True)
    ]
    [predict] = [output for output in response.json()["outputs"] if output["name"] == "predict"]
    assert predict["data"] == make_prediction(input_data=rows)["predictions"]


def test_a_bad_value_is_a_400_naming_tensor_row_value_and_allowed_values(client: TestClient) -> None:
    rows = [ARTICLE_ROW, {**ARTICLE_ROW, "safety": "extreme"}]
    response = client.post(INFER, json=v2_body(rows))
    assert response.status_code == 400
    message = error_of(response)
    for part in ("safety", "row 1", "'extreme'", "low, med, high"):
        assert part in message


def test_limits_apply_as_on_api_v1(make_client: Any) -> None:
    limited = make_client(MAX_ROWS_PER_REQUEST=2, MAX_REQUEST_BODY_BYTES=4096)
    too_many = limited.post(INFER, json=v2_body([ARTICLE_ROW] * 3))
    assert too_many.status_code == 400
    assert "at most 2 rows per request" in error_of(too_many)
    too_large = limited.post(INFER, content=orjson.dumps(v2_body([ARTICLE_ROW] * 2, id="x" * 5000)))
    assert too_large.status_code == 413
    assert "larger than the limit of 4096 bytes" in error_of(too_large)


def test_errors_from_the_shared_pipeline_take_the_protocol_shape(client: TestClient) -> None:
    assert error_of(client.get(INFER)) == "Method Not Allowed"
    assert error_of(client.get("/v2/nothing")) == "Not Found"
    encoded = client.post(INFER, content=b"{}", headers={"Content-Encoding": "br"})
    assert encoded.status_code == 415
    assert "Content-Encoding 'br'" in error_of(encoded)
    compressed = client.post(
        INFER, content=gzip.compress(orjson.dumps(v2_body([ARTICLE_ROW]))), headers={"Content-Encoding": "gzip"}
    )
    assert compressed.status_code == 200


def test_an_unexpected_error_is_a_500_in_the_protocol_shape(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> Any:
        raise RuntimeError("secret")

    monkeypatch.setattr(data_plane, "make_prediction", broken)
    response = client.post(INFER, json=v2_body([ARTICLE_ROW]), headers={"X-Request-ID": "v2-boom"})
    assert response.status_code == 500
    assert "v2-boom" in error_of(response)
    assert "secret" not in response.text


def test_api_v1_errors_keep_their_shape(client: TestClient) -> None:
    assert set(client.get(f"{API}/nothing").json()) == {"detail"}


def test_openapi_documents_the_v2_routes_under_their_tag(client: TestClient) -> None:
    schema = client.get(f"{API}/openapi.json").json()
    v2_paths = {path: ops for path, ops in schema["paths"].items() if path.startswith("/v2")}
    assert "/v2/models/{model_name}/infer" in v2_paths
    assert "/v2/health/ready" in v2_paths
    for operations in v2_paths.values():
        for operation in operations.values():
            assert operation["tags"] == [v2_route.TAG]
    infer = v2_paths["/v2/models/{model_name}/infer"]["post"]
    assert infer["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/InferenceRequest")
    assert "InferenceRequest" in schema["components"]["schemas"]


def test_openapi_gives_the_v2_routes_no_422(client: TestClient) -> None:
    schema = client.get(f"{API}/openapi.json").json()
    for path, operations in schema["paths"].items():
        if path.startswith("/v2"):
            for operation in operations.values():
                assert "422" not in operation["responses"], path


def test_one_endpoint_answers_both_paths_of_a_model_route(client: TestClient) -> None:
    for suffix in ("", "/ready"):
        plain = client.get(f"{MODEL}{suffix}")
        versioned = client.get(f"{MODEL}/versions/{model_version}{suffix}")
        assert plain.status_code == versioned.status_code == 200
        assert plain.json() == versioned.json()
