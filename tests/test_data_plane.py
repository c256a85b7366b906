"""The data plane: one recorder, attached once, sees every prediction of every route."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from app.data_plane import AccessLineRecorder, Answered, Call, Refused
from app.main import create_app
from car_evaluation_model import __version__ as model_version
from car_evaluation_model import make_prediction
from car_evaluation_model.predict import trained_table
from tests.conftest import API, ARTICLE_ROW
from tests.inference_protocol.clients import ALL_CARS, FEATURES, triton_request

CARS: list[dict[str, Any]] = ALL_CARS.sample(5, random_state=11).to_dict("records")  # type: ignore[assignment]
BAD_ROW = {**CARS[0], "buying": "cheap"}


class Seen:
    """A recorder that keeps what it is told."""

    def __init__(self) -> None:
        self.answers: list[tuple[Call, Answered]] = []
        self.refusals: list[tuple[Call, Refused]] = []

    def answered(self, call: Call, answer: Answered) -> None:
        self.answers.append((call, answer))

    def refused(self, call: Call, refusal: Refused) -> None:
        self.refusals.append((call, refusal))


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def recorded_client(seen: Seen) -> Any:
    app = create_app()
    app.state.data_plane.attach(seen)
    with TestClient(app) as test_client:
        yield test_client


def expected_labels(rows: list[dict[str, Any]]) -> list[str]:
    return make_prediction(input_data=rows)["predictions"] or []


def labels_of(answer: Answered) -> list[str]:
    return [trained_table().labels[position] for position in answer.rows.positions]


def test_every_route_that_predicts_tells_the_recorder(recorded_client: TestClient, seen: Seen) -> None:
    headers = {"X-Request-ID": "seen-1"}
    assert recorded_client.post(f"{API}/predict", json={"inputs": CARS}, headers=headers).status_code == 200
    assert recorded_client.post(f"{API}/explain", json={"inputs": CARS}).status_code == 200
    for binary in (False, True):
        body, header_length = triton_request(ALL_CARS.head(5), binary=binary, request_id="v2-7")
        v2_headers = {} if header_length is None else {"Inference-Header-Content-Length": header_length}
        response = recorded_client.post("/v2/models/car-evaluation/infer", content=body, headers=v2_headers)
        assert response.status_code == 200
    upload = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([CARS[0], BAD_ROW, CARS[1]]), upload)
    files = {"file": ("cars.parquet", upload.getvalue())}
    assert recorded_client.post(f"{API}/predict/file", files=files).status_code == 200

    calls = [(call.route, call.api) for call, _ in seen.answers]
    assert calls == [
        ("predict", "v1"),
        ("explain", "v1"),
        ("v2 infer", "v2"),
        ("v2 infer", "v2"),
        ("predict file", "v1"),
    ]
    predict, explain, v2_json, v2_binary, scored_file = (answer for _, answer in seen.answers)
    assert seen.answers[0][0].request_id == "seen-1"
    assert {seen.answers[2][0].inference_id, seen.answers[3][0].inference_id} == {"v2-7"}
    assert labels_of(predict) == labels_of(explain) == expected_labels(CARS)
    first_five: list[dict[str, Any]] = ALL_CARS.head(5).to_dict("records")  # type: ignore[assignment]
    assert labels_of(v2_json) == labels_of(v2_binary) == expected_labels(first_five)
    assert labels_of(scored_file) == expected_labels([CARS[0], CARS[1]])
    assert scored_file.row_numbers == [0, 2]
    assert all(answer.version == model_version for _, answer in seen.answers)
    assert sum(predict.classes.values()) == len(CARS)
    [(call, refusal)] = seen.refusals
    assert (call.route, refusal.request_rows, refusal.errors) == ("predict file", 3, 1)
    assert refusal.problems == {("buying", "value_not_allowed"): 1}


def test_refused_rows_are_told_and_not_answered(recorded_client: TestClient, seen: Seen) -> None:
    response = recorded_client.post(f"{API}/predict", json={"inputs": [ARTICLE_ROW, BAD_ROW]})
    assert response.status_code == 422
    assert seen.answers == []
    [(call, refusal)] = seen.refusals
    assert (call.route, refusal.request_rows, refusal.errors) == ("predict", 2, 1)
    assert dict(refusal.problems) == {("buying", "value_not_allowed"): 1}


def test_the_positions_are_the_cars(recorded_client: TestClient, seen: Seen) -> None:
    assert recorded_client.post(f"{API}/predict", json={"inputs": CARS}).status_code == 200
    [(_, answer)] = seen.answers
    frame = trained_table().domain.frame(list(answer.rows.positions))
    assert frame[list(FEATURES)].to_dict("records") == [{name: str(car[name]) for name in FEATURES} for car in CARS]


def test_the_access_line_adds_up_a_files_tables_answered_and_refused() -> None:
    table = trained_table()
    call = Call("file-request", "predict file", "v1")
    recorder = AccessLineRecorder()
    first, second = (make_prediction(input_data=CARS[:count], keep_rows=True) for count in (3, 2))
    for result in (first, second):
        classes = Counter(result["predictions"] or [])
        recorder.answered(call, Answered(model_version, result["input_rows"], classes))
    recorder.refused(
        call, Refused(request_rows=4, refused_rows=1, errors=1, problems={("buying", "value_not_allowed"): 1})
    )
    expected = Counter(table.labels[position] for position in first["input_rows"].positions)
    expected.update(table.labels[position] for position in second["input_rows"].positions)
    assert call.log_fields == {"rows": 6, "model_version": model_version, "classes": dict(expected), "errors": 1}
