"""POST /predict/file: score an uploaded CSV or Parquet file, answered as a file of the same format.

The model package's batch scoring (``car_evaluation_model.batch``) does the work: every row
is answered or refused on its own, with the messages of ``/predict``. The upload has its own
limits (``MAX_UPLOAD_BYTES``, ``MAX_UPLOAD_ROWS``); reading, scoring and writing run in the
thread pool, so the event loop stays free for other requests while a large file is scored.
"""

from __future__ import annotations

import io
import re
from pathlib import PurePath
from typing import Any

import orjson
import pyarrow as pa
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from app.api.deps import SettingsDep, data_plane_of
from app.api.prediction import call_of
from app.api.request_body import read_body
from app.api.routing import RouterWithHead
from app.errors import UNPROCESSABLE, ApiError
from app.schemas.errors import ErrorResponse
from car_evaluation_model.batch_files import (
    FORMATS,
    MEDIA_TYPES,
    BatchFileError,
    FileColumnsError,
    FileFormat,
    TooManyRowsError,
    read_table,
    table_bytes,
)

router = RouterWithHead(tags=["prediction"])

FIELD = "file"
# Room for the multipart framing around the file: boundaries and part headers.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# Headers that sum the answer up for a client that does not read the file (the page).
ROWS_HEADER = "X-Rows"
REJECTED_HEADER = "X-Rows-Rejected"
CLASSES_HEADER = "X-Class-Counts"

REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {"type": "string", "format": "binary", "description": "a .csv or .parquet file"}
                    },
                }
            }
        },
    }
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file with prediction, probability_<class> and error columns added, as a download.",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in MEDIA_TYPES.values()
        },
    },
    400: {"model": ErrorResponse, "description": "The body is not a readable multipart form."},
    413: {"model": ErrorResponse, "description": "The file is larger than MAX_UPLOAD_BYTES."},
    415: {"model": ErrorResponse, "description": "The file is neither .csv nor .parquet."},
    422: {
        "model": ErrorResponse,
        "description": "No file field, an unreadable file, no rows, more rows than MAX_UPLOAD_ROWS, "
        "or a missing feature column.",
    },
}


def _too_large(limit: int) -> ApiError:
    return ApiError.single(
        413, ["body", FIELD], f"the file is larger than MAX_UPLOAD_BYTES ({limit} bytes)", "file_too_large"
    )


def _file_problem(message: str, type_: str) -> ApiError:
    return ApiError.single(UNPROCESSABLE, ["body", FIELD], message, type_, field=FIELD)


def _format_of(upload: UploadFile) -> FileFormat:
    suffix = PurePath(upload.filename or "").suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    media_type = (upload.content_type or "").split(";", 1)[0].strip().lower()
    for file_format, known in MEDIA_TYPES.items():
        if media_type == known:
            return file_format
    raise ApiError.single(
        415,
        ["body", FIELD],
        f"the file {upload.filename or ''!r} is neither CSV nor Parquet; send a .csv or .parquet file",
        "unsupported_file_type",
        field=FIELD,
        allowed=list(FORMATS),
    )


async def _uploaded_file(request: Request, limit: int) -> UploadFile:
    """The form's ``file``, read within ``limit`` bytes before the multipart parser sees it."""
    try:
        body = await read_body(request, limit + MULTIPART_OVERHEAD_BYTES)
    except ApiError as error:
        raise _too_large(limit) if error.status_code == 413 else error from None
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile):
        raise _file_problem(
            f"the form has no file field {FIELD!r}; send the CSV or Parquet file as {FIELD!r}", "missing"
        )
    if upload.size is not None and upload.size > limit:
        raise _too_large(limit)
    return upload


def _read(data: bytes, file_format: FileFormat, name: str, max_rows: int) -> pa.Table:
    try:
        return read_table(io.BytesIO(data), file_format, name, max_rows)
    except TooManyRowsError as error:
        raise _file_problem(f"{name} has more rows than MAX_UPLOAD_ROWS ({error.limit})", "too_many_rows") from None
    except FileColumnsError as error:
        raise _file_problem(str(error), "missing_column") from None
    except BatchFileError as error:
        raise _file_problem(str(error), "file_unreadable") from None


def _download_name(filename: str | None, file_format: FileFormat) -> str:
    # Only plain characters in the header: the client's name is untrusted text.
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", PurePath(filename or "cars").stem)[:100] or "cars"
    return f"{stem}.scored.{file_format}"


@router.post("/predict/file", responses=RESPONSES, openapi_extra=REQUEST_BODY, response_class=Response)
async def predict_file(request: Request, settings: SettingsDep) -> Response:
    """Score every row of an uploaded CSV or Parquet file (multipart form, field `file`).

    The answer is the same file, in the same format, with the columns `prediction`,
    `probability_<class>` for each class, and `error` added: a valid row gets what
    `/predict` answers for it, an invalid one null answers and the message `/predict` gives
    (without its `row i:` prefix). Other columns are kept, in order; CSV values are read as text.
    The headers `X-Rows`, `X-Rows-Rejected` and `X-Class-Counts` (JSON) sum it up.
    """
    upload = await _uploaded_file(request, settings.MAX_UPLOAD_BYTES)
    file_format = _format_of(upload)
    name = upload.filename or "the file"
    data = await upload.read()
    table = await run_in_threadpool(_read, data, file_format, name, settings.MAX_UPLOAD_ROWS)
    scored = await data_plane_of(request).score_table(call_of(request, "predict file", "v1"), table)
    content = await run_in_threadpool(table_bytes, scored.table, file_format)
    headers = {
        "Content-Disposition": f'attachment; filename="{_download_name(upload.filename, file_format)}"',
        ROWS_HEADER: str(scored.table.num_rows),
        REJECTED_HEADER: str(scored.rejected),
        CLASSES_HEADER: orjson.dumps(scored.class_counts()).decode(),
    }
    return Response(content, media_type=MEDIA_TYPES[file_format], headers=headers)
