"""CSV files as people have them, read in record batches of text by Arrow.

The delimiter is given or found in the header line (the one of ``DELIMITERS`` it holds most
of); the header is parsed here, so that the caller can match its names before Arrow reads a
row. Every column is read as bytes and checked as text batch by batch, so that a value that is
not in the file's encoding is named by its row and column. A row with another number of fields
than the header is named by its line, found by reading the file again with Python's ``csv``
where it can be read again (a file, bytes, a seekable stream).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO

import pyarrow as pa
import pyarrow.csv as pa_csv

from car_evaluation_model.file_formats import DELIMITERS, BatchFileError

CSV_BLOCK_BYTES = 8 * 1024 * 1024
HEAD_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 200  # a quoted row can be long

Reopen = Callable[[], AbstractContextManager[IO[bytes]]]


class FileEncodingError(BatchFileError):
    """Text not in the file's encoding; ``row`` counts data rows from 1 (None: the header or unknown).

    ``likely`` is the encoding to suggest (``likely_encoding``), UTF-16 when the file looks like it.
    """

    def __init__(
        self, message: str, row: int | None = None, column: str | None = None, likely: str = "latin-1"
    ) -> None:
        super().__init__(message)
        self.row = row
        self.column = column
        self.likely = likely


def likely_encoding(data: bytes) -> str:
    """cp1252 when ``data`` reads as it, else Latin-1, which reads any bytes.

    cp1252 is what Windows spreadsheets save: its 0x80-0x9F are the euro sign, curly quotes and
    dashes, which Latin-1 would read as invisible control characters.
    """
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def one_line(text: str) -> str:
    """``text`` on one printable line, cut to ``MAX_MESSAGE_CHARS``."""
    text = " ".join(text.split())
    text = "".join(character if character.isprintable() else repr(character)[1:-1] for character in text)
    return text if len(text) <= MAX_MESSAGE_CHARS else f"{text[:MAX_MESSAGE_CHARS]}..."


@dataclass(frozen=True)
class CsvHeader:
    names: list[str]  # as written, spaces and case included
    delimiter: str
    head: bytes  # the first bytes read, which the rows are read after again
    only_header: bool  # the file ends with the header line (Arrow cannot skip one without a line end)


def detect_delimiter(header_line: str) -> str:
    """The delimiter the header holds most of (ties: the first of ``DELIMITERS``); ``,`` for one column."""
    return max(DELIMITERS, key=header_line.count) if any(d in header_line for d in DELIMITERS) else DELIMITERS[0]


def read_header(stream: IO[bytes], name: str, encoding: str, delimiter: str | None) -> CsvHeader:
    head = stream.read(HEAD_BYTES)
    if not head:
        raise BatchFileError(f"{name}: the file is empty")
    if b"\x00" in head and codecs.lookup(encoding).name == "utf-8":
        raise FileEncodingError(f"{name}: it holds NUL bytes, so it is not {encoding} text", likely="utf-16")
    # Incremental, so that a character cut at the end of the head is not an error.
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
    # The first line, whichever of \n, \r\n or a lone \r (old Macs) ends it, as Arrow reads the rows.
    text = text.removeprefix("\ufeff")
    first_line = io.StringIO(text, newline="").readline()
    header_line = first_line.rstrip("\r\n")
    if "\ufffd" in header_line:
        raise FileEncodingError(f"{name}: its header is not {encoding} text", likely=likely_encoding(head))
    delimiter = delimiter or detect_delimiter(header_line)
    names = next(csv.reader([header_line], delimiter=delimiter))
    return CsvHeader(names, delimiter, head, only_header=len(head) < HEAD_BYTES and first_line == text)


class Replayed(io.RawIOBase):
    """The bytes already read, then the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def csv_batches(
    rows: IO[bytes] | str,
    header: CsvHeader,
    column_names: list[str],
    *,
    name: str,
    encoding: str,
    reopen: Reopen | None,
    block_bytes: int = CSV_BLOCK_BYTES,
) -> Iterator[pa.RecordBatch]:
    """The rows after the header, as batches of text columns named ``column_names``.

    ``rows`` is the file's path, which Arrow reads itself from the start, or the stream that
    ``header`` was read from, which goes on after ``header.head``. ``block_bytes``: how much of
    the file Arrow reads and parses at a time (more is faster, less holds less memory).
    """
    if header.only_header:
        return
    invalid: list[pa_csv.InvalidRow] = []

    def invalid_row(row: pa_csv.InvalidRow) -> str:
        invalid.append(row)
        return "error"

    rows_before = 0
    try:
        reader = pa_csv.open_csv(
            rows if isinstance(rows, str) else io.BufferedReader(Replayed(header.head, rows), block_bytes),
            read_options=pa_csv.ReadOptions(
                block_size=block_bytes, column_names=column_names, skip_rows=1, encoding=arrow_encoding(encoding)
            ),
            parse_options=pa_csv.ParseOptions(delimiter=header.delimiter, invalid_row_handler=invalid_row),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(column_names, pa.binary())),
        )
        for batch in reader:
            yield pa.RecordBatch.from_arrays(
                [
                    as_text(column, field, rows_before, name=name, encoding=encoding)
                    for column, field in zip(batch.columns, column_names, strict=True)
                ],
                names=column_names,
            )
            rows_before += batch.num_rows
    except pa.ArrowInvalid as error:
        if invalid:
            raise ragged_row_error(invalid[0], header, name, encoding, rows_before=rows_before, reopen=reopen) from None
        raise BatchFileError(f"{name}: cannot read it: {one_line(str(error))}") from None
    except UnicodeDecodeError:  # while Arrow transcodes from another encoding than UTF-8
        raise FileEncodingError(f"{name}: a row after row {rows_before} is not {encoding} text") from None


def arrow_encoding(encoding: str) -> str:
    """Arrow's name for UTF-8, which it reads as it is; any other encoding it transcodes with Python's codec."""
    return "utf8" if codecs.lookup(encoding).name == "utf-8" else encoding


def as_text(column: pa.Array, field: str, rows_before: int, *, name: str, encoding: str) -> pa.Array:
    """``column``'s bytes as text; ``FileEncodingError`` naming the first row that is not."""
    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        values = [value or b"" for value in column.to_pylist()]
        for index, value in enumerate(values):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                row = rows_before + index + 1
                message = f"{name}: row {row} (column {field}) is not {encoding} text"
                raise FileEncodingError(message, row, field, likely_encoding(b"\n".join(values))) from None
        raise


def ragged_row_error(
    row: pa_csv.InvalidRow, header: CsvHeader, name: str, encoding: str, *, rows_before: int, reopen: Reopen | None
) -> BatchFileError:
    line = ragged_line(reopen, header, encoding) if reopen is not None else None
    where = f"line {line}" if line is not None else f"a row after row {rows_before}"
    return BatchFileError(
        f"{name}: {where} has {row.actual_columns} fields where the header has {row.expected_columns}: "
        f"{one_line(row.text)}"
    )


def ragged_line(reopen: Reopen, header: CsvHeader, encoding: str) -> int | None:
    """The line where the first record with another number of fields than the header ends."""
    with reopen() as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        try:
            records = csv.reader(text, delimiter=header.delimiter)
            next(records, None)
            for record in records:
                if record and len(record) != len(header.names):
                    return records.line_num
            return None
        finally:
            text.detach()  # the stream is the caller's to close
