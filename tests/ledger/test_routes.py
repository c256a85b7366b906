"""The ledger through the service: every route's predictions recorded, labels by /feedback, /performance exact."""

from __future__ import annotations

import gzip
import io
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import accuracy_score, confusion_matrix

from app.api.routes.ledger import PERFORMANCE_QUERIES_AT_ONCE
from app.api.routes.predict_file import CHUNK_ROWS
from app.config import Settings
from app.ledger.cars import CLASSES
from app.main import create_app
from car_evaluation_model import make_prediction
from tests.conftest import API
from tests.inference_protocol.clients import ALL_CARS, triton_request

TOKEN = secrets.token_hex(16)
CARS: list[dict[str, Any]] = ALL_CARS.sample(40, random_state=5).to_dict("records")  # type: ignore[assignment]


@pytest.fixture
def served(ledger_url: str | None, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        _env_file=None,
        LEDGER_URL=ledger_url,
        LEDGER_DATA_DIR=tmp_path / "data",
        LEDGER_FLUSH_SECONDS=0.02,
        FEEDBACK_TOKEN=TOKEN,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def recorded(client: TestClient, path: Path) -> pd.DataFrame:
    ledger = client.app.state.ledger  # type: ignore[attr-defined]
    assert ledger.drain(30)
    ledger.export(path)
    frame: pd.DataFrame = pq.read_table(path).to_pandas()
    return frame


def test_every_route_is_recorded_with_its_request_id_and_rows(served: TestClient, tmp_path: Path) -> None:
    assert served.post(f"{API}/predict", json={"inputs": CARS[:3]}, headers={"X-Request-ID": "p-1"}).status_code == 200
    assert served.post(f"{API}/explain", json={"inputs": CARS[3:4]}, headers={"X-Request-ID": "e-1"}).status_code == 200
    body, length = triton_request(pd.DataFrame(CARS[4:6]), binary=True, request_id="client-7")
    v2 = served.post(
        "/v2/models/car-evaluation/infer",
        content=body,
        headers={"X-Request-ID": "v-1", "Inference-Header-Content-Length": str(length)},
    )
    assert v2.status_code == 200
    upload = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([CARS[6], {**CARS[7], "safety": "none"}, CARS[8]]), upload)
    files = {"file": ("cars.parquet", upload.getvalue())}
    assert served.post(f"{API}/predict/file", files=files, headers={"X-Request-ID": "f-1"}).status_code == 200
    refused = served.post(f"{API}/predict", json={"inputs": [{**CARS[0], "buying": "free"}]})
    assert refused.status_code == 422

    frame = recorded(served, tmp_path / "export.parquet")
    rows = sorted(zip(frame["request_id"], frame["row"], frame["route"], strict=True))
    assert rows == [
        ("e-1", 0, "explain"),
        ("f-1", 0, "predict file"),
        ("f-1", 2, "predict file"),
        ("p-1", 0, "predict"),
        ("p-1", 1, "predict"),
        ("p-1", 2, "predict"),
        ("v-1", 0, "v2 infer"),
        ("v-1", 1, "v2 infer"),
    ]
    assert set(frame.loc[frame["request_id"] == "v-1", "v2_id"]) == {"client-7"}
    by_row = frame.set_index(["request_id", "row"])
    expected = make_prediction(input_data=CARS[:3])["predictions"]
    assert [by_row.loc[("p-1", row), "prediction"] for row in range(3)] == expected


def test_a_file_of_several_tables_is_recorded_with_its_row_numbers(served: TestClient, tmp_path: Path) -> None:
    rows = CHUNK_ROWS * 2 + 5  # the tables after the first start past row 0, every row valid
    cars = [CARS[row % len(CARS)] for row in range(rows)]
    upload = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(cars), upload)
    files = {"file": ("cars.parquet", upload.getvalue())}
    answer = served.post(f"{API}/predict/file", files=files, headers={"X-Request-ID": "f-2"})
    assert (answer.status_code, answer.headers["x-rows-rejected"]) == (200, "0")

    frame = recorded(served, tmp_path / "export.parquet").sort_values("row")

    assert frame["row"].tolist() == list(range(rows))
    expected = make_prediction(input_data=CARS)["predictions"] or []
    assert frame["prediction"].tolist() == [expected[row % len(CARS)] for row in range(rows)]


def test_labels_need_the_token_and_performance_equals_scikit_learn(served: TestClient, tmp_path: Path) -> None:
    assert served.post(f"{API}/predict", json={"inputs": CARS}, headers={"X-Request-ID": "p-2"}).status_code == 200
    truth = [CLASSES[(index * 7) % len(CLASSES)] for index in range(len(CARS))]
    labels = [{"request_id": "p-2", "row": row, "label": label} for row, label in enumerate(truth[:30])]

    assert served.post(f"{API}/feedback", json={"labels": labels}).status_code == 401
    assert served.post(f"{API}/feedback", json={"labels": labels}, headers=bearer("wrong")).status_code == 401
    wrong = [
        *labels[:2],
        {"request_id": "p-2", "row": 3, "label": "excellent"},
        {"request_id": "p 2", "row": 0, "label": "acc"},
    ]
    refused = served.post(f"{API}/feedback", json={"labels": wrong}, headers=bearer())
    assert refused.status_code == 422
    details = refused.json()["detail"]
    assert [(detail["loc"], detail["allowed"]) for detail in details] == [
        (["body", "labels", 2, "label"], list(CLASSES)),
        (["body", "labels", 3, "request_id"], None),
    ]
    accepted = served.post(f"{API}/feedback", json={"labels": labels}, headers=bearer())
    assert accepted.json() == {"accepted": 30}
    correction = {"request_id": "p-2", "row": 0, "label": CLASSES[3]}
    assert served.post(f"{API}/feedback", json={"labels": [correction]}, headers=bearer()).status_code == 200

    frame = recorded(served, tmp_path / "export.parquet")
    labelled = frame[frame["label"].notna()]
    [version] = served.get(f"{API}/performance").json()["versions"]
    assert version["predictions"] == len(CARS) == len(frame)
    assert version["labelled"] == 30 == len(labelled)
    assert version["accuracy"] == accuracy_score(labelled["label"], labelled["prediction"])
    matrix = confusion_matrix(labelled["label"], labelled["prediction"], labels=list(CLASSES))
    assert version["confusion_matrix"] == matrix.tolist()
    assert labelled.set_index("row").loc[0, "label"] == CLASSES[3]


def test_without_a_token_set_feedback_is_refused_to_everyone(ledger_url: str | None, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, LEDGER_URL=ledger_url, LEDGER_DATA_DIR=tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.post(f"{API}/feedback", json={"labels": []}).status_code == 401
        response = client.post(f"{API}/feedback", json={"labels": []}, headers=bearer("any"))
        assert response.status_code == 403
        assert "FEEDBACK_TOKEN" in response.json()["detail"][0]["msg"]


def test_with_the_ledger_off_its_routes_say_so(make_client: Any) -> None:
    client: TestClient = make_client(LEDGER_URL="off", FEEDBACK_TOKEN=TOKEN)
    response = client.get(f"{API}/performance")
    assert response.status_code == 404
    assert "LEDGER_URL=off" in response.json()["detail"][0]["msg"]


def test_an_unknown_route_filter_is_refused_with_the_routes_there_are(served: TestClient) -> None:
    response = served.get(f"{API}/performance", params={"route": "/api/v1/predict"})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["query", "route"]
    assert all(f"'{name}'" in detail["msg"] for name in ("predict", "explain", "v2 infer", "predict file"))
    assert served.get(f"{API}/performance", params={"route": "v2 infer"}).status_code == 200


def test_a_row_beyond_what_the_ledger_stores_is_the_labels_error(served: TestClient) -> None:
    labels = [{"request_id": "req-a", "row": row, "label": "acc"} for row in (2**31 - 1, 2**31, 2**64)]
    response = served.post(f"{API}/feedback", json={"labels": labels}, headers=bearer())
    assert response.status_code == 422
    details = response.json()["detail"]
    assert [detail["loc"] for detail in details] == [["body", "labels", 1, "row"], ["body", "labels", 2, "row"]]
    assert all("from 0 to 2147483647" in detail["msg"] for detail in details)


def test_with_the_database_unreachable_the_ledgers_routes_answer_503(tmp_path: Path) -> None:
    # Nothing listens on port 1: the service starts (predictions wait in the spool), its reads cannot.
    unreachable = "postgresql://ledger@127.0.0.1:1/ledger?connect_timeout=2"
    settings = Settings(_env_file=None, LEDGER_URL=unreachable, LEDGER_DATA_DIR=tmp_path, FEEDBACK_TOKEN=TOKEN)
    with TestClient(create_app(settings)) as client:
        labels = {"labels": [{"request_id": "req-a", "row": 0, "label": "acc"}]}
        for response in (
            client.get(f"{API}/performance"),
            client.post(f"{API}/feedback", json=labels, headers=bearer()),
        ):
            assert response.status_code == 503
            [detail] = response.json()["detail"]
            assert detail["type"] == "ledger_unavailable"
            # Where the database is stays in the log: the answer names no host, port or user.
            assert detail["msg"] == "the prediction ledger's database cannot be reached; try again later"


def test_a_feedback_body_that_is_not_json_is_refused_with_predicts_words(served: TestClient) -> None:
    def post(body: bytes, content_type: str) -> Any:
        return served.post(f"{API}/feedback", content=body, headers={**bearer(), "Content-Type": content_type})

    cut = post(b'{"labels": [', "application/json")
    assert cut.status_code == 422
    predict_cut = served.post(f"{API}/predict", content=b'{"labels": [', headers={"Content-Type": "application/json"})
    assert cut.json()["detail"] == predict_cut.json()["detail"]
    assert cut.json()["detail"][0]["type"] == "json_invalid"
    text = post(b"request_id,row,label", "text/plain")
    assert text.status_code == 415
    assert text.json()["detail"][0]["msg"] == "send the body as application/json"
    not_an_object = post(b"[1, 2]", "application/json")  # JSON, of the wrong shape: a 422 naming it
    assert not_an_object.status_code == 422
    assert not_an_object.json()["detail"][0]["loc"] == ["body"]
    another_field = post(b'{"labels": [{"request_id": "a", "row": 0, "label": "acc"}], "x": 1}', "application/json")
    assert another_field.status_code == 422
    assert another_field.json()["detail"][0]["loc"] == ["body", "x"]


def test_feedback_checks_the_token_before_it_reads_the_body(served: TestClient) -> None:
    for headers in ({}, bearer("wrong")):
        refused = served.post(f"{API}/feedback", content=b"{not json", headers=headers)
        assert refused.status_code == 401, refused.text


def test_a_feedback_body_has_predicts_size_limit_and_encodings(served: TestClient) -> None:
    limit = served.app.state.settings.MAX_REQUEST_BODY_BYTES  # type: ignore[attr-defined]
    label = {"request_id": "req-a", "row": 0, "label": "acc"}
    oversized = orjson.dumps({"labels": [label] * (limit // len(orjson.dumps(label)) + 1)})
    headers = {**bearer(), "Content-Type": "application/json"}
    too_large = served.post(f"{API}/feedback", content=oversized, headers=headers)
    assert too_large.status_code == 413, too_large.text
    gzipped = gzip.compress(orjson.dumps({"labels": [label]}))
    accepted = served.post(f"{API}/feedback", content=gzipped, headers={**headers, "Content-Encoding": "gzip"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"accepted": 1}


def test_performance_takes_any_time_of_the_calendar_and_refuses_one_out_of_range_in_utc(served: TestClient) -> None:
    for since in ("0001-01-01T00:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00Z"):
        answered = served.get(f"{API}/performance", params={"since": since})
        assert answered.status_code == 200, (since, answered.text)
    refused = served.get(f"{API}/performance", params={"until": "0001-01-01T00:00:00+01:00"})
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["detail"]
    assert detail["loc"] == ["query", "until"]
    assert "out of range once in UTC" in detail["msg"]


def test_a_worker_runs_a_bounded_number_of_performance_queries_at_once(
    served: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = served.app.state.ledger  # type: ignore[attr-defined]
    read_performance = ledger.performance
    lock, running, most_at_once = threading.Lock(), 0, 0

    def slow_performance(*filters: Any) -> list[dict[str, Any]]:
        nonlocal running, most_at_once
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
        try:
            time.sleep(0.3)  # every request arrives while the first queries run
            return read_performance(*filters)  # type: ignore[no-any-return]
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(ledger, "performance", slow_performance)
    asking = 4 * PERFORMANCE_QUERIES_AT_ONCE
    with ThreadPoolExecutor(asking) as clients:
        answers = list(clients.map(lambda _: served.get(f"{API}/performance"), range(asking)))

    assert [answer.status_code for answer in answers] == [200] * asking
    assert most_at_once == PERFORMANCE_QUERIES_AT_ONCE
