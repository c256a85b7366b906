"""The upload's body: what is not a multipart form is refused in the documented shapes (docs/rest-api.md)."""

from __future__ import annotations

import gzip

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API

URL = f"{API}/predict/file"
FORM = "multipart/form-data; boundary=xyz"
CSV = b"buying,maint,doors,persons,lug_boot,safety\nlow,low,4,more,big,high\n"


def test_a_body_not_sent_as_a_form_is_a_415_naming_the_content_type(client: TestClient) -> None:
    response = client.post(URL, content=CSV, headers={"content-type": "text/csv"})
    assert response.status_code == 415
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["header", "content-type"]
    assert detail["type"] == "unsupported_media_type"
    assert detail["msg"] == "send the body as multipart/form-data, with the CSV or Parquet file in the field 'file'"
    assert detail["input"] == "text/csv"


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        ("multipart/form-data", CSV, "Missing boundary in multipart."),
        (FORM, b"not a multipart body", "Invalid multipart data."),
        (FORM, b'--xyz\r\nContent-Disposition form-data; name="file"\r\n\r\nabc\r\n--xyz--\r\n', "Invalid multipart"),
        (FORM, b"--xyz\r\nX-Part: 1\r\n\r\nabc\r\n--xyz--\r\n", 'The Content-Disposition header field "name"'),
        (
            FORM,
            b"".join(
                b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="%s.csv"\r\n\r\n%s\r\n' % (name, CSV)
                for name in (b"a", b"b")
            )
            + b"--xyz--\r\n",
            "Too many files.",
        ),
    ],
    ids=["no-boundary", "no-parts", "bad-part-header", "unnamed-part", "two-files"],
)
def test_a_malformed_form_is_a_400_on_the_body(client: TestClient, content_type: str, body: bytes, says: str) -> None:
    response = client.post(URL, content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body"]
    assert detail["type"] == "form_unreadable"
    assert detail["msg"].startswith("the body is not a readable multipart form: ")
    assert says in detail["msg"]


def test_a_gzip_encoded_form_is_read_as_it_arrives(client: TestClient) -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="cars.csv"\r\n\r\n%s\r\n--xyz--\r\n' % CSV
    response = client.post(URL, content=gzip.compress(body), headers={"content-type": FORM, "content-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["x-rows"] == "1"


FILE_PART_HEADERS = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="cars.csv"\r\n\r\n'


@pytest.mark.parametrize(
    "body",
    [FILE_PART_HEADERS + CSV[:50], FILE_PART_HEADERS + CSV + b"\r\n--xy", FILE_PART_HEADERS + CSV + b"\r\n--xyz"],
    ids=["mid-row", "mid-boundary", "no-closing-dashes"],
)
def test_a_body_cut_inside_the_file_part_is_a_400_saying_so_and_nothing_is_scored(
    client: TestClient, body: bytes
) -> None:
    response = client.post(URL, content=body, headers={"content-type": FORM})
    assert response.status_code == 400
    assert "x-rows" not in response.headers
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "file"]
    assert detail["type"] == "form_incomplete"
    assert detail["msg"].startswith("the upload ended before the file part 'file' did (no closing boundary)")


def test_a_body_cut_before_any_part_is_a_400_saying_the_form_was_cut(client: TestClient) -> None:
    cut = b'--xyz\r\nContent-Disposition: form-data; name="fi'
    response = client.post(URL, content=cut, headers={"content-type": FORM})
    assert response.status_code == 400
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body"]
    assert detail["type"] == "form_incomplete"
