"""One routing table, one error path: what every request gets, whichever route or error it meets."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from app import data_plane
from app.errors import ApiError
from app.main import create_app
from car_evaluation_model.processing.validation import MAX_LISTED_ERRORS
from tests.conftest import API, ARTICLE_ROW

PREDICT = f"{API}/predict"
ONE_ROW = {"inputs": [ARTICLE_ROW]}


def nested(depth: int, leaf: object) -> str:
    """JSON text of ``leaf`` inside ``depth`` arrays (deeper than a JSON encoder will write)."""
    return "[" * depth + orjson.dumps(leaf).decode() + "]" * depth


ROW_FIELDS = orjson.dumps({k: v for k, v in ARTICLE_ROW.items() if k != "buying"}).decode()[1:-1]


def details(response: Any) -> list[dict[str, Any]]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"}
    return list(body["detail"])


# The hot route is an ordinary route of the routing table.


def test_predict_answers_under_a_root_path() -> None:
    with TestClient(create_app(), root_path="/svc") as client:
        response = client.post(PREDICT, json=ONE_ROW)
        assert response.status_code == 200
        assert response.json()["predictions"] == ["vgood"]
        assert client.get(f"{API}/health").status_code == 200


def test_exception_handlers_registered_on_the_app_apply_to_predict() -> None:
    app = create_app()

    async def teapot(_: Any, error: Exception) -> Any:
        return PlainTextResponse(f"teapot: {error}", status_code=418)

    app.add_exception_handler(ApiError, teapot)
    with TestClient(app) as client:
        response = client.post(PREDICT, json={"inputs": []})
    assert response.status_code == 418
    assert response.text.startswith("teapot: ")


# Hostile bodies: a clear 4xx, never a 500, and a small answer.


@pytest.mark.parametrize(
    ("body", "field", "type_"),
    [
        (f'{{"inputs": [{{"buying": {nested(1000, "low")}, {ROW_FIELDS}}}]}}', "buying", "value_not_allowed"),
        (f'{{"inputs": [{nested(1000, ARTICLE_ROW)}]}}', None, "row_not_object"),
        (f'{{"inputs": {nested(1000, ARTICLE_ROW)}}}', None, "row_not_object"),
    ],
    ids=["deep-value", "deep-row", "deep-inputs"],
)
def test_deeply_nested_values_get_a_422_naming_the_field(
    client: TestClient, body: str, field: str | None, type_: str
) -> None:
    response = client.post(PREDICT, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["X-Request-ID"]
    [detail] = details(response)
    assert detail["type"] == type_
    assert detail["field"] == field
    assert detail["input"] == "<list>"
    if field:
        assert detail["allowed"] == ["low", "med", "high", "vhigh"]


def test_nesting_deeper_than_the_json_parser_allows_is_invalid_json(client: TestClient) -> None:
    body = b'{"inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = client.post(PREDICT, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert details(response)[0]["type"] == "json_invalid"


def test_ten_thousand_empty_rows_get_a_bounded_answer(client: TestClient) -> None:
    response = client.post(PREDICT, json={"inputs": [{}] * 10_000})
    assert response.status_code == 422
    assert len(response.content) < 50_000
    *listed, summary = details(response)
    assert len(listed) == MAX_LISTED_ERRORS
    assert all(detail["type"] == "missing" for detail in listed)
    assert summary["type"] == "too_many_errors"
    assert summary["loc"] == ["body", "inputs"]
    assert "rows have problems that are not listed" in summary["msg"]


def test_a_row_with_fifty_thousand_unknown_fields_gets_a_bounded_answer(client: TestClient) -> None:
    row = {**ARTICLE_ROW, **{f"field{i}": 1 for i in range(50_000)}}
    response = client.post(PREDICT, json={"inputs": [row]})
    assert response.status_code == 422
    assert len(response.content) < 50_000
    *listed, summary = details(response)
    assert [detail["field"] for detail in listed] == [f"field{i}" for i in range(MAX_LISTED_ERRORS)]
    assert summary["type"] == "too_many_errors"


# One error path: 404, 405, 500 in the documented shape, with the request id.


def test_unknown_path_and_method_answer_the_detail_list(client: TestClient) -> None:
    missing = client.get(f"{API}/nothing-here")
    assert missing.status_code == 404
    assert details(missing) == [{"loc": ["path"], "msg": "Not Found", "type": "not_found"}]
    wrong_method = client.get(PREDICT)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert details(wrong_method)[0]["type"] == "method_not_allowed"


def test_an_unexpected_error_is_a_500_with_the_request_id_and_one_logged_traceback(
    client: TestClient, log_records: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(data_plane, "make_prediction", broken)
    response = client.post(PREDICT, json=ONE_ROW, headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "boom-1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    [detail] = details(response)
    assert detail["type"] == "internal_error"
    assert "boom-1" in detail["msg"]
    assert "secret" not in response.text
    tracebacks = [record for record in log_records if record["exception"] is not None]
    assert len(tracebacks) == 1
    assert tracebacks[0]["extra"]["request_id"] == "boom-1"


@pytest.mark.parametrize("path", ["/", "/docs", "/api/v1/health", "/api/v1/nothing", "/api/v1/predict"])
def test_every_answer_says_nosniff(client: TestClient, path: str) -> None:
    assert client.get(path.replace("/api/v1", API)).headers["X-Content-Type-Options"] == "nosniff"


def test_trailing_slash_is_not_redirected_to_the_host_header(client: TestClient) -> None:
    response = client.get(f"{API}/health/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers


@pytest.mark.parametrize("path", ["/", "/docs", "/api/v1/health"])
def test_head_is_answered_wherever_get_is(client: TestClient, path: str) -> None:
    url = path.replace("/api/v1", API)
    head, get = client.head(url), client.get(url)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


# Content-Encoding: gzip and deflate are decoded within the limit; anything else is a 415.


def post_encoded(client: TestClient, body: bytes, encoding: str) -> Any:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    return client.post(PREDICT, content=body, headers=headers)


@pytest.mark.parametrize(("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_compressed_bodies_are_decoded(client: TestClient, encoding: str, compress: Callable[[bytes], bytes]) -> None:
    response = post_encoded(client, compress(orjson.dumps(ONE_ROW)), encoding)
    assert response.status_code == 200
    assert response.json()["predictions"] == ["vgood"]


def test_a_plain_body_labelled_gzip_is_refused(client: TestClient) -> None:
    response = post_encoded(client, orjson.dumps(ONE_ROW), "gzip")
    assert response.status_code == 400
    assert details(response)[0]["type"] == "body_not_decodable"


def test_a_gzip_bomb_is_refused_at_the_decoded_limit(make_client: Any) -> None:
    client = make_client(MAX_REQUEST_BODY_BYTES=64 * 1024)
    bomb = gzip.compress(b'{"inputs": [' + b" " * (10 * 1024 * 1024) + b"]}")
    assert len(bomb) < 64 * 1024
    response = post_encoded(client, bomb, "gzip")
    assert response.status_code == 413
    assert "decoded request body is larger than the limit of 65536 bytes" in details(response)[0]["msg"]


def test_an_unknown_content_encoding_is_a_415_naming_the_supported_ones(client: TestClient) -> None:
    response = post_encoded(client, orjson.dumps(ONE_ROW), "br")
    assert response.status_code == 415
    [detail] = details(response)
    assert detail["field"] == "content-encoding"
    assert detail["allowed"] == ["identity", "gzip", "deflate"]


def test_two_content_encoding_lines_are_one_list_of_codings_and_refused(client: TestClient) -> None:
    body = gzip.compress(orjson.dumps(ONE_ROW))
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "identity"), ("Content-Encoding", "gzip")]
    response = client.post(PREDICT, content=body, headers=headers)
    assert response.status_code == 415
    [detail] = details(response)
    assert detail["input"] == "identity, gzip"


def test_an_oversize_body_is_a_413_with_or_without_a_content_length(make_client: Any) -> None:
    client = make_client(MAX_REQUEST_BODY_BYTES=4096)
    body = orjson.dumps({"inputs": [ARTICLE_ROW] * 100})
    declared = client.post(PREDICT, content=body, headers={"Content-Type": "application/json"})
    streamed = client.post(PREDICT, content=iter([body]), headers={"Content-Type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert details(response)[0]["type"] == "body_too_large"


# A client that goes away mid-body: one access line, no traceback, no 500.


@pytest.fixture
def app_before_log_records() -> Any:
    """An app built before ``log_records`` starts listening (building one sets up the logging)."""
    return create_app()


def test_a_client_that_disconnects_mid_body_is_one_line_without_a_traceback(
    app_before_log_records: Any, log_records: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_before_log_records
    messages = [
        {"type": "http.request", "body": b'{"inputs": [', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PREDICT,
        "raw_path": PREDICT.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"x-request-id", b"gone-1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    asyncio.run(app(scope, receive, send))
    assert all(record["exception"] is None for record in log_records)
    [line] = [line for line in capsys.readouterr().err.splitlines() if "gone-1" in line]
    assert f"POST {PREDICT} 499" in line
    assert "client went away" in line
