from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import data_plane
from car_evaluation_model import ModelArtifactError
from car_evaluation_model import __version__ as model_version
from car_evaluation_model.processing.data_manager import load_dataset
from tests.conftest import API, ARTICLE_ROW

URL = f"{API}/predict"
CLASSES = ["unacc", "acc", "good", "vgood"]


def post_rows(client: TestClient, rows: list[Any]) -> Any:
    return client.post(URL, json={"inputs": rows})


def details(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    assert set(body) == {"detail"}
    return list(body["detail"])


def test_article_example_returns_labels_and_probabilities(client: TestClient) -> None:
    response = post_rows(client, [ARTICLE_ROW])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"predictions", "probabilities", "version", "errors"}
    assert body["predictions"] == ["vgood"]
    assert body["version"] == model_version
    assert body["errors"] is None
    assert list(body["probabilities"][0]) == CLASSES
    assert math.isclose(sum(body["probabilities"][0].values()), 1.0, rel_tol=1e-9)


def test_every_class_is_reachable_and_matches_the_data(client: TestClient) -> None:
    data = load_dataset()
    sample = data.groupby("class").head(5)
    rows = sample.drop(columns="class").to_dict(orient="records")
    response = post_rows(client, rows)
    assert response.status_code == 200
    assert response.json()["predictions"] == sample["class"].tolist()
    assert set(response.json()["predictions"]) == set(CLASSES)


def test_many_rows_keep_their_order(client: TestClient) -> None:
    data = load_dataset().sample(500, random_state=1)
    response = post_rows(client, data.drop(columns="class").to_dict(orient="records"))
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 500
    assert response.json()["predictions"] == data["class"].tolist()


@pytest.mark.parametrize(
    ("row", "field", "error_type", "allowed"),
    [
        ({**ARTICLE_ROW, "buying": "cheap"}, "buying", "value_not_allowed", ["low", "med", "high", "vhigh"]),
        ({**ARTICLE_ROW, "maint": "VHIGH "}, "maint", "value_not_allowed", ["low", "med", "high", "vhigh"]),
        ({**ARTICLE_ROW, "doors": 7}, "doors", "value_not_allowed", ["2", "3", "4", "5more"]),
        ({**ARTICLE_ROW, "safety": 1.5}, "safety", "value_not_allowed", ["low", "med", "high"]),
        ({**ARTICLE_ROW, "persons": None}, "persons", "null_value", ["2", "4", "more"]),
        ({k: v for k, v in ARTICLE_ROW.items() if k != "lug_boot"}, "lug_boot", "missing", ["small", "med", "big"]),
        (
            {**ARTICLE_ROW, "colour": "red"},
            "colour",
            "unknown_field",
            ["buying", "maint", "doors", "persons", "lug_boot", "safety"],
        ),
    ],
)
def test_bad_row_is_422_naming_row_field_and_allowed_values(
    client: TestClient, row: dict[str, Any], field: str, error_type: str, allowed: list[str]
) -> None:
    response = post_rows(client, [ARTICLE_ROW, row])
    assert response.status_code == 422
    [error] = details(response)
    assert error["loc"] == ["body", "inputs", 1, field]
    assert error["row"] == 1
    assert error["field"] == field
    assert error["type"] == error_type
    assert error["allowed"] == allowed
    assert field in error["msg"]
    assert ", ".join(allowed) in error["msg"]


@pytest.mark.parametrize(
    ("sent", "quoted"), [("\u0430cc", "'\\u0430cc'"), ("high\xa0", "'high\\xa0'"), ("\U0001f697", "'\\U0001f697'")]
)
def test_a_refused_text_shows_each_character_outside_ascii_by_its_code(
    client: TestClient, sent: str, quoted: str
) -> None:
    """A look-alike letter or an invisible space is seen in the message; ``input`` is the text as sent."""
    response = post_rows(client, [{**ARTICLE_ROW, "safety": sent}])
    [error] = details(response)
    assert error["input"] == sent
    assert f"safety has the value {quoted}, which is not allowed" in error["msg"]


def test_row_that_is_not_an_object(client: TestClient) -> None:
    response = post_rows(client, ["low,low,4,more,big,high"])
    assert response.status_code == 422
    [error] = details(response)
    assert error["loc"] == ["body", "inputs", 0]
    assert error["type"] == "row_not_object"


def test_every_bad_row_is_reported(client: TestClient) -> None:
    response = post_rows(client, [{**ARTICLE_ROW, "buying": "x"}, ARTICLE_ROW, {**ARTICLE_ROW, "safety": "x"}])
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in details(response)] == [(0, "buying"), (2, "safety")]


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        (b"{not json", ["body"], "json_invalid"),
        (b"", ["body"], "json_invalid"),
        (b"[1, 2]", ["body"], "body_not_object"),
        (b"{}", ["body", "inputs"], "missing"),
        (b'{"inputs": {"buying": "low"}}', ["body", "inputs"], "inputs_not_list"),
        (b'{"inputs": [], "extra": 1}', ["body", "extra"], "unknown_field"),
        (b'{"inputs": []}', ["body", "inputs"], "no_rows"),
        (b'{"inputs": [1e400]}', ["body"], "json_invalid"),
    ],
)
def test_bad_envelope_is_422(client: TestClient, body: bytes, loc: list[Any], error_type: str) -> None:
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    [error] = details(response)
    assert error["loc"] == loc
    assert error["type"] == error_type
    assert error["msg"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(URL, content=b'{"inputs": []}', headers=headers)
    assert response.status_code == 415
    assert "application/json" in details(response)[0]["msg"]


def test_json_content_type_with_charset_is_accepted(client: TestClient) -> None:
    response = client.post(
        URL,
        content=orjson.dumps({"inputs": [ARTICLE_ROW]}),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_more_rows_than_the_limit_is_422(make_client: Any) -> None:
    limited = make_client(MAX_ROWS_PER_REQUEST=3)
    assert post_rows(limited, [ARTICLE_ROW] * 3).status_code == 200
    response = post_rows(limited, [ARTICLE_ROW] * 4)
    assert response.status_code == 422
    [error] = details(response)
    assert error["type"] == "too_many_rows"
    assert "limit is 3" in error["msg"]


def test_body_over_the_byte_limit_is_413(make_client: Any) -> None:
    limited = make_client(MAX_REQUEST_BODY_BYTES=2048)
    response = post_rows(limited, [ARTICLE_ROW] * 40)
    assert response.status_code == 413
    assert "2048 bytes" in details(response)[0]["msg"]


def test_streamed_body_over_the_byte_limit_is_413(make_client: Any) -> None:
    """No Content-Length: the limit is enforced while the body is read."""
    limited = make_client(MAX_REQUEST_BODY_BYTES=2048)

    def chunks() -> Any:
        yield b'{"inputs": ['
        for _ in range(40):
            yield orjson.dumps(ARTICLE_ROW) + b","
        yield b"]}"

    response = limited.post(URL, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_openapi_lists_allowed_values_and_the_example(client: TestClient) -> None:
    schema = client.get(f"{API}/openapi.json").json()
    body = schema["paths"][f"{API}/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    components = schema["components"]["schemas"]
    car = components["CarInput"]
    assert car["properties"]["buying"]["enum"] == ["low", "med", "high", "vhigh"]
    assert car["properties"]["doors"]["anyOf"][0]["enum"] == ["2", "3", "4", "5more"]
    assert car["required"] == ["buying", "maint", "doors", "persons", "lug_boot", "safety"]
    assert components["PredictRequest"]["examples"][0]["inputs"][0] == ARTICLE_ROW
    assert components["PredictResponse"]["properties"]["predictions"]["items"]["enum"] == CLASSES


def test_the_documented_example_response_is_what_the_service_answers(client: TestClient) -> None:
    """What Swagger UI shows for /predict is the real answer to its example request, every digit."""
    components = client.get(f"{API}/openapi.json").json()["components"]["schemas"]
    [request] = components["PredictRequest"]["examples"]
    [example] = components["PredictResponse"]["examples"]
    assert example == client.post(URL, json=request).json()


def test_other_methods_on_predict_are_405(client: TestClient) -> None:
    assert client.get(URL).status_code == 405


def test_batches_above_the_inline_limit_give_the_same_answer(client: TestClient) -> None:
    data = load_dataset()
    rows = data.drop(columns="class").to_dict(orient="records")
    response = post_rows(client, rows)  # 1728 rows: computed in the thread pool
    assert response.status_code == 200
    assert response.json()["predictions"] == data["class"].tolist()


def test_a_model_that_cannot_load_is_503_not_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_: Any) -> Any:
        raise ModelArtifactError("car_evaluation_model_v0.1.0.pkl was trained with scikit-learn 1.2.0 but ...")

    monkeypatch.setattr(data_plane, "make_prediction", broken)
    response = post_rows(client, [ARTICLE_ROW])
    assert response.status_code == 503
    [error] = details(response)
    assert error["type"] == "model_unavailable"
    assert "scikit-learn 1.2.0" in error["msg"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ROW_VALUES = st.sampled_from([*ARTICLE_ROW.values(), "vhigh", "5more", 2, 4.0, None, "", True, [], {}])
ROWS = st.dictionaries(st.sampled_from([*ARTICLE_ROW, "colour"]), ROW_VALUES | JSON_VALUES, max_size=7)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        JSON_VALUES.map(orjson.dumps),
        st.binary(max_size=64),
        st.lists(ROWS, max_size=5).map(lambda rows: orjson.dumps({"inputs": rows})),
    )
)
def test_no_body_gets_a_500(client: TestClient, body: bytes) -> None:
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code in {200, 422}, response.text
    if response.status_code == 422:
        assert all(error["msg"] and error["type"] for error in details(response))
