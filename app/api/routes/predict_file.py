"""POST /predict/file: score an uploaded CSV or Parquet file, answered as a file of the same format.

The model package's batch scoring (``car_evaluation_model.batch``) does the work: every row
is answered or refused on its own, with the messages of ``/predict``. The upload has its own
limits (``MAX_UPLOAD_BYTES``, ``MAX_UPLOAD_ROWS``).

Memory stays bounded whatever the file's size: the body is parsed as it arrives, the file part
spooled to a temporary file (Starlette's multipart parser), read back in tables of
``CHUNK_ROWS`` rows (``read_batches``), each scored through the data plane and appended to an
unnamed temporary file; reading, scoring and writing run in the thread pool, so the event loop
stays free for other requests. A worker scores one upload at a time (``UPLOADS_SCORED_AT_ONCE``),
so its memory does not grow with the uploads it is sent at once either. Only when the whole
file is scored is the answer sent, from that file: a file refused half-way (past
``MAX_UPLOAD_ROWS``, a row that cannot be read) is a clean 4xx, never a 200 with half an
answer, and the recorders are told of the rows only then (``FileScoring``). The temporary files
have no name left on disk once open, so nothing stays behind, whatever happens to the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import PurePath
from typing import IO, Annotated, Any, Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser, MultipartPart
from starlette.responses import StreamingResponse

from app.api.deps import data_plane_of, settings_of
from app.api.inputs import unsupported_media_type
from app.api.prediction import call_of
from app.api.request_body import body_chunks
from app.api.routing import RouterWithHead
from app.data_plane import FileScoring
from app.errors import BAD_REQUEST, UNPROCESSABLE, ApiError
from app.memory import release_unused_memory
from app.request_state import header
from app.schemas.errors import ErrorResponse
from car_evaluation_model.batch import ERROR
from car_evaluation_model.batch_files import (
    FORMATS,
    MEDIA_TYPES,
    BatchFileError,
    FileColumnsError,
    FileFormat,
    TableWriter,
    read_batches,
)

router = RouterWithHead(tags=["prediction"])

FIELD = "file"
FORM_MEDIA_TYPE = "multipart/form-data"
# Room for the multipart framing around the file: boundaries and part headers.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# Rows read, scored and written at a time, and the bytes of a CSV parsed at a time: what bounds
# the memory an upload takes.
CHUNK_ROWS = 25_000
CSV_BLOCK_BYTES = 1024 * 1024
# Uploads a worker scores at once; the others wait their turn, their files spooled to disk. A
# worker has one core, so scoring two at once is no faster, and would take twice the memory.
UPLOADS_SCORED_AT_ONCE = 1
# Bytes of the answer read from its temporary file and sent at a time.
SEND_BYTES = 1024 * 1024
# Headers that sum the answer up for a client that does not read the file (the page).
ROWS_HEADER = "X-Rows"
REJECTED_HEADER = "X-Rows-Rejected"
CLASSES_HEADER = "X-Class-Counts"
# The first rejected rows, as JSON: [{"row": 0, "error": "..."}], for the page to list them.
FIRST_REJECTED_HEADER = "X-Rows-Rejected-First"
FIRST_REJECTED_LISTED = 10
# Fewer rows listed rather than a header a proxy refuses (nginx's buffer for them: 4 or 8 KiB).
FIRST_REJECTED_HEADER_BYTES = 2048
# What the answer holds: every row, or (rows=rejected) only the rejected ones, as the CLI's --rejects.
RowsWanted = Literal["all", "rejected"]

REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM_MEDIA_TYPE: {
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
    400: {
        "model": ErrorResponse,
        "description": "The body is not a readable multipart form, or it ended before the form did (cut short).",
    },
    413: {"model": ErrorResponse, "description": "The file is larger than MAX_UPLOAD_BYTES."},
    415: {
        "model": ErrorResponse,
        "description": "The body is not sent as multipart/form-data, or the file is neither .csv nor .parquet.",
    },
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


class _FormParser(MultiPartParser):
    """Starlette's parser, which also knows whether the body reached the form's closing boundary.

    Without it, a body cut short (the client stopped sending, a proxy gave up) would parse as a
    form without its last part: a file cut mid-way would be taken for no file at all.
    """

    ended = False  # the closing boundary was read
    open_part: MultipartPart | None = None  # the part being read, once its headers are

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        self.open_part = self._current_part

    def on_part_end(self) -> None:
        super().on_part_end()
        self.open_part = None

    def on_end(self) -> None:
        self.ended = True


def _cut_short(open_part: MultipartPart | None) -> ApiError:
    if open_part is not None and open_part.field_name == FIELD:
        return ApiError.single(
            BAD_REQUEST,
            ["body", FIELD],
            f"the upload ended before the file part {FIELD!r} did (no closing boundary): "
            "the body was cut short, and nothing of it was scored; send the whole file again",
            "form_incomplete",
            field=FIELD,
        )
    return ApiError.single(
        BAD_REQUEST,
        ["body"],
        "the upload ended before the multipart form did (no closing boundary): the body was cut short",
        "form_incomplete",
    )


def _check_form(request: Request) -> None:
    content_type = header(request.scope, b"content-type")
    if (content_type or "").split(";", 1)[0].strip().lower() != FORM_MEDIA_TYPE:
        raise unsupported_media_type(
            content_type, f"{FORM_MEDIA_TYPE}, with the CSV or Parquet file in the field {FIELD!r}"
        )


async def _uploaded_form(request: Request, limit: int) -> tuple[FormData, UploadFile]:
    """The form and its ``file``, parsed as the body arrives, refused as soon as it is past ``limit`` bytes."""
    _check_form(request)

    async def body() -> AsyncGenerator[bytes]:
        try:
            async for chunk in body_chunks(request, limit + MULTIPART_OVERHEAD_BYTES):
                yield chunk
        except ApiError as error:
            raise _too_large(limit) if error.status_code == 413 else error from None

    parser = _FormParser(request.headers, body(), max_files=1, max_fields=10)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise ApiError.single(
            BAD_REQUEST, ["body"], f"the body is not a readable multipart form: {error.message}", "form_unreadable"
        ) from None
    if not parser.ended:
        await form.close()
        if parser.open_part is not None and parser.open_part.file is not None:
            await parser.open_part.file.close()  # half a file, in no form's items
        raise _cut_short(parser.open_part)
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile):
        await form.close()
        raise _file_problem(
            f"the form has no file field {FIELD!r}; send the CSV or Parquet file as {FIELD!r}", "missing"
        )
    if upload.size is not None and upload.size > limit:
        await form.close()
        raise _too_large(limit)
    return form, upload


@contextlib.contextmanager
def _readable(name: str) -> Iterator[None]:
    """The model package's errors about the uploaded file as 422s naming it."""
    try:
        yield
    except FileColumnsError as error:
        raise _file_problem(str(error), "missing_column") from None
    except BatchFileError as error:
        raise _file_problem(str(error), "file_unreadable") from None


def _too_many_rows(name: str, limit: int) -> ApiError:
    return _file_problem(f"{name} has more rows than MAX_UPLOAD_ROWS ({limit})", "too_many_rows")


def _next_table(tables: Iterator[pa.Table], name: str) -> pa.Table | None:
    with _readable(name):
        return next(tables, None)


def _rejected_rows(scored: pa.Table, first_row: int, wanted: int) -> list[dict[str, Any]]:
    """The first ``wanted`` rejected rows of ``scored``, numbered in the file (from ``first_row``), with errors."""
    errors = scored[ERROR]
    at = np.flatnonzero(errors.is_valid().to_numpy(zero_copy_only=False))[:wanted]
    return [
        {"row": first_row + int(row), "error": error}
        for row, error in zip(at.tolist(), errors.take(at).to_pylist(), strict=True)
    ]


async def _score_into(
    output: IO[bytes],
    source: IO[bytes],
    file_format: FileFormat,
    *,
    name: str,
    max_rows: int,
    scoring: FileScoring,
    rows: RowsWanted,
) -> list[dict[str, Any]]:
    """Every table of ``source`` scored by ``scoring`` and written to ``output`` (all ``rows``, or the rejected).

    A 422 as soon as the file fails; else the first rejected rows.
    """
    with _readable(name):
        chunks = await run_in_threadpool(
            read_batches, source, file_format, name=name, chunk_rows=CHUNK_ROWS, csv_block_bytes=CSV_BLOCK_BYTES
        )
    if chunks.rows is not None and chunks.rows > max_rows:  # Parquet says how many rows it has
        raise _too_many_rows(name, max_rows)
    writer = TableWriter(output, file_format)
    first_rejected: list[dict[str, Any]] = []
    try:
        while (table := await run_in_threadpool(_next_table, chunks.tables, name)) is not None:
            if scoring.rows + table.num_rows > max_rows:
                raise _too_many_rows(name, max_rows)
            first_row = scoring.rows
            scored = await scoring.score(table)
            del table
            first_rejected += _rejected_rows(scored, first_row, FIRST_REJECTED_LISTED - len(first_rejected))
            if rows == "rejected":
                scored = scored.filter(pc.is_valid(scored[ERROR]))
            await run_in_threadpool(writer.write, scored)
            del scored
    finally:
        await run_in_threadpool(writer.close)
    if scoring.rows == 0:
        raise _file_problem(f"{name}: no rows to score", "file_unreadable")
    return first_rejected


async def _sent(answer: IO[bytes]) -> AsyncIterator[bytes]:
    """The answer's bytes from its temporary file, which is closed (and so gone) at the end, or if the client goes."""
    try:
        while chunk := await run_in_threadpool(answer.read, SEND_BYTES):
            yield chunk
    finally:
        answer.close()
        release_unused_memory()


def _first_rejected_header(rejected: list[dict[str, Any]]) -> str:
    # ASCII only in a header: the errors echo the file's values, which may be any text.
    listed = json.dumps(rejected, separators=(",", ":"))
    while len(listed) > FIRST_REJECTED_HEADER_BYTES and len(rejected) > 1:
        rejected = rejected[:-1]
        listed = json.dumps(rejected, separators=(",", ":"))
    return listed


def _scoring_turn(request: Request) -> asyncio.Semaphore:
    """The app's turns to score an upload, made in its event loop when first needed."""
    state = request.app.state
    if getattr(state, "upload_scoring", None) is None:
        state.upload_scoring = asyncio.Semaphore(UPLOADS_SCORED_AT_ONCE)
    turn: asyncio.Semaphore = state.upload_scoring
    return turn


def _download_name(filename: str | None, file_format: FileFormat, rows: RowsWanted) -> str:
    # Only plain characters in the header: the client's name is untrusted text.
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", PurePath(filename or "cars").stem)[:100] or "cars"
    return f"{stem}.{'scored' if rows == 'all' else 'rejected'}.{file_format}"


@router.post("/predict/file", responses=RESPONSES, openapi_extra=REQUEST_BODY, response_class=Response)
async def predict_file(
    request: Request,
    rows: Annotated[RowsWanted, Query(description="`rejected`: answer only the rejected rows.")] = "all",
) -> Response:
    """Score every row of an uploaded CSV or Parquet file (multipart form, field `file`).

    The answer is the same file, in the same format, with the columns `prediction`,
    `probability_<class>` for each class, and `error` added: a valid row gets what
    `/predict` answers for it, an invalid one null answers and the message `/predict` gives
    (without its `row i:` prefix). Other columns are kept, in order; CSV values are read as text.
    The headers `X-Rows`, `X-Rows-Rejected` and `X-Class-Counts` (JSON) sum it up, and
    `X-Rows-Rejected-First` (JSON) lists the first rejected rows with their errors.
    With `rows=rejected`, the file holds only the rejected rows.
    """
    settings = settings_of(request)
    form, upload = await _uploaded_form(request, settings.MAX_UPLOAD_BYTES)
    answer = tempfile.TemporaryFile()  # noqa: SIM115 (closed by _sent once the answer is sent)
    try:
        file_format = _format_of(upload)
        scoring = data_plane_of(request).file_scoring(call_of(request, "predict file", "v1"))
        name = upload.filename or "the file"
        async with _scoring_turn(request):
            try:
                first_rejected = await _score_into(
                    answer,
                    upload.file,
                    file_format,
                    name=name,
                    max_rows=settings.MAX_UPLOAD_ROWS,
                    scoring=scoring,
                    rows=rows,
                )
            finally:
                release_unused_memory()
        size = answer.tell()
        answer.seek(0)
    except BaseException:
        answer.close()
        raise
    finally:
        await form.close()
    scoring.record()
    headers = {
        "Content-Disposition": f'attachment; filename="{_download_name(upload.filename, file_format, rows)}"',
        "Content-Length": str(size),
        ROWS_HEADER: str(scoring.rows),
        REJECTED_HEADER: str(scoring.rejected),
        CLASSES_HEADER: orjson.dumps(scoring.class_counts()).decode(),
        FIRST_REJECTED_HEADER: _first_rejected_header(first_rejected),
    }
    return StreamingResponse(_sent(answer), media_type=MEDIA_TYPES[file_format], headers=headers)
