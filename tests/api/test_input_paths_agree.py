"""Every input path accepts a value or refuses it with the same message.

One definition of a valid car (``car_evaluation_model.domain``) serves every path: the model
package's rows, columns and data frames, ``CarInput``, ``/api/v1/predict``, ``/api/v1/explain``
and v2 infer with JSON and binary tensors. Any value, sent to each, gets one verdict.
"""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from car_evaluation_model import CarInput, Columns, make_prediction
from car_evaluation_model.config.core import config
from car_evaluation_model.processing.validation import MAX_LISTED_ERRORS
from tests.conftest import API, ARTICLE_ROW
from tests.inference_protocol.clients import triton_request

FEATURES = config.model.feature_names
INFER = "/v2/models/car-evaluation/infer"

SPELLINGS = st.sampled_from(
    ["4", 4, 4.0, "5more", "2", 2, 2.5, "four", " 4", "4 ", "LOW", "low", "vhigh", "more", 0, 1, True, False, None, ""]
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
VALUES = (
    SPELLINGS
    | JSON_SCALARS
    | st.lists(JSON_SCALARS, max_size=2)
    | st.dictionaries(st.text(max_size=3), JSON_SCALARS, max_size=2)
)


def v1_verdict(client: TestClient, route: str, row: dict[str, Any]) -> str | None:
    """None when answered; else the messages of the refusal, joined."""
    response = client.post(
        f"{API}/{route}", content=orjson.dumps({"inputs": [row]}), headers={"content-type": "application/json"}
    )
    if response.status_code == 200:
        return None
    assert response.status_code == 422, response.text
    return "; ".join(detail["msg"] for detail in response.json()["detail"])


def v2_verdict(client: TestClient, body: bytes, header_length: str | None) -> str | None:
    headers = {} if header_length is None else {"Inference-Header-Content-Length": header_length}
    response = client.post(INFER, content=body, headers=headers)
    if response.status_code == 200:
        return None
    assert response.status_code == 400, response.text
    message: str = response.json()["error"]
    return message


def v2_json_body(row: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {"inputs": [{"name": name, "shape": [1], "datatype": "BYTES", "data": [value]} for name, value in row.items()]}
    )


def package_verdicts(row: dict[str, Any]) -> list[str | None]:
    """The model package's verdict for the row as a dict, as columns and as a data frame (row 0's messages)."""
    verdicts = []
    for input_data in (
        [row],
        Columns({name: [value] for name, value in row.items()}),
        pd.DataFrame({name: pd.Series([value], dtype=object) for name, value in row.items()}),
    ):
        errors = make_prediction(input_data=input_data)["errors"]
        verdicts.append(None if errors is None else "; ".join(f"row 0: {error['message']}" for error in errors))
    return verdicts


def car_input_verdict(row: dict[str, Any]) -> str | None:
    try:
        CarInput.model_validate(row)
    except ValidationError as error:
        [problem] = error.errors()
        return f"row 0: {problem['ctx']['error']}"
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(feature=st.sampled_from(FEATURES), value=VALUES)
def test_every_path_gives_a_value_the_same_verdict(client: TestClient, feature: str, value: Any) -> None:
    row = {**ARTICLE_ROW, feature: value}
    verdict = v1_verdict(client, "predict", row)
    assert v1_verdict(client, "explain", row) == verdict
    assert v2_verdict(client, v2_json_body(row), None) == verdict
    assert package_verdicts(row) == [verdict] * 3
    assert car_input_verdict(row) == verdict
    if isinstance(value, str):  # binary tensors carry bytes: strings only
        frame = pd.DataFrame([row]).astype(object)
        assert v2_verdict(client, *triton_request(frame, binary=True)) == verdict


def test_a_refusal_names_the_field_the_value_and_the_allowed_values(client: TestClient) -> None:
    row = {**ARTICLE_ROW, "doors": "four"}
    expected = "row 0: doors has the value 'four', which is not allowed; allowed values: 2, 3, 4, 5more"
    assert v1_verdict(client, "predict", row) == expected
    assert v2_verdict(client, v2_json_body(row), None) == expected


def test_both_api_shapes_list_as_many_problems_then_count_the_rest(client: TestClient) -> None:
    rows = [{**ARTICLE_ROW, "safety": "none"}] * (MAX_LISTED_ERRORS + 50)
    v1 = client.post(f"{API}/predict", json={"inputs": rows}).json()["detail"]
    frame = pd.DataFrame(rows).astype(object)
    v2 = v2_verdict(client, *triton_request(frame, binary=True))
    assert v2 == "; ".join(detail["msg"] for detail in v1)
    assert len(v1) == MAX_LISTED_ERRORS + 1
    assert v1[-1]["msg"].endswith("50 more rows have problems that are not listed")


@pytest.mark.parametrize("path", [f"{API}/predict", INFER])
def test_a_value_nested_a_thousand_deep_is_a_4xx_on_both_api_shapes(client: TestClient, path: str) -> None:
    deep = "[" * 1000 + '"low"' + "]" * 1000
    fields = orjson.dumps({name: value for name, value in ARTICLE_ROW.items() if name != "buying"}).decode()[1:-1]
    if path == INFER:
        tensors = [orjson.loads(v2_json_body({name: ARTICLE_ROW[name]}))["inputs"][0] for name in FEATURES[1:]]
        body = '{"inputs": [{"name": "buying", "shape": [1], "datatype": "BYTES", "data": [' + deep + "]}, "
        body += ", ".join(orjson.dumps(tensor).decode() for tensor in tensors) + "]}"
    else:
        body = '{"inputs": [{"buying": ' + deep + ", " + fields + "}]}"
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert "buying has the value [[[[...]]]], which is not allowed" in response.text
    assert len(response.content) < 1000
