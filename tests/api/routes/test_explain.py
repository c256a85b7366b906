from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app import data_plane
from car_evaluation_model import __version__ as model_version
from car_evaluation_model import explain, make_prediction
from car_evaluation_model.processing.data_manager import load_dataset
from tests.conftest import API, ARTICLE_ROW

URL = f"{API}/explain"


@pytest.fixture(scope="module")
def sample_rows() -> list[dict[str, Any]]:
    rows: Any = load_dataset().drop(columns="class").sample(200, random_state=5).to_dict("records")
    return list(rows)


def test_explanations_are_the_model_packages(client: TestClient, sample_rows: list[dict[str, Any]]) -> None:
    response = client.post(URL, json={"inputs": sample_rows})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"explanations", "version"}
    assert body["version"] == model_version
    assert body["explanations"] == explain(input_data=sample_rows)["explanations"]


def test_each_explanation_adds_up_to_the_predicted_probabilities(
    client: TestClient, sample_rows: list[dict[str, Any]]
) -> None:
    explanations = client.post(URL, json={"inputs": sample_rows}).json()["explanations"]
    predicted = make_prediction(input_data=sample_rows)
    assert [e["prediction"] for e in explanations] == predicted["predictions"]
    for explanation, probabilities in zip(explanations, predicted["probabilities"] or [], strict=True):
        assert explanation["probabilities"] == probabilities
        for label, probability in probabilities.items():
            total = explanation["base_values"][label] + sum(explanation["shapley"][label].values())
            assert math.isclose(total, probability, abs_tol=1e-12)


def test_a_counterfactual_flips_the_prediction(client: TestClient) -> None:
    [explanation] = client.post(URL, json={"inputs": [ARTICLE_ROW]}).json()["explanations"]
    assert explanation["counterfactuals"]
    for change in explanation["counterfactuals"]:
        changed = {**ARTICLE_ROW, change["feature"]: change["value"]}
        answer = client.post(f"{API}/predict", json={"inputs": [changed]}).json()
        assert answer["predictions"] == [change["prediction"]] != [explanation["prediction"]]
        assert answer["probabilities"][0][change["prediction"]] == change["probability"]


BAD_BODIES = [
    orjson.dumps({"inputs": [{**ARTICLE_ROW, "buying": "cheap"}, {"colour": "red"}]}),
    orjson.dumps({"inputs": [{}] * 2000}),
    orjson.dumps({"inputs": []}),
    orjson.dumps({"rows": [ARTICLE_ROW]}),
    orjson.dumps({"inputs": "all of them"}),
    orjson.dumps([ARTICLE_ROW]),
    b"{not json",
    b"",
]


@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_bad_input_is_answered_exactly_as_predict_answers_it(
    client: TestClient, body: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    explained = client.post(URL, content=body, headers=headers)
    predicted = client.post(f"{API}/predict", content=body, headers=headers)
    assert explained.status_code == predicted.status_code >= 400
    assert explained.json() == predicted.json()


def test_more_rows_than_the_limit_is_the_same_422_as_predict(make_client: Any) -> None:
    limited = make_client(MAX_ROWS_PER_REQUEST=2)
    body = {"inputs": [ARTICLE_ROW] * 3}
    explained, predicted = limited.post(URL, json=body), limited.post(f"{API}/predict", json=body)
    assert explained.status_code == predicted.status_code == 422
    assert explained.json() == predicted.json()


def test_batches_above_the_inline_limit_give_the_same_answer(client: TestClient) -> None:
    rows = [ARTICLE_ROW] * (data_plane.EXPLAIN_INLINE_ROWS + 1)
    explanations = client.post(URL, json={"inputs": rows}).json()["explanations"]
    assert explanations == explain(input_data=rows)["explanations"]
    assert data_plane.PREDICT_INLINE_ROWS > data_plane.EXPLAIN_INLINE_ROWS


def test_openapi_documents_explain_with_an_example(client: TestClient) -> None:
    schema = client.get(f"{API}/openapi.json").json()
    operation = schema["paths"][URL]["post"]
    assert operation["tags"] == ["explanation"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PredictRequest")
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert response["$ref"].endswith("/ExplainResponse")
    [example] = schema["components"]["schemas"]["ExplainResponse"]["examples"]
    explanation = example["explanations"][0]
    assert set(explanation) == {"prediction", "probabilities", "base_values", "shapley", "counterfactuals"}
