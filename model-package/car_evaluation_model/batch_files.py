"""Scoring CSV and Parquet files with ``batch.score``: in chunks, and never a half-written output.

The format is the file's extension (``.csv``, ``.parquet``). Every CSV column is read as
text, as it is written, so that other columns pass through unchanged (``007`` stays
``007``) and a feature's later ``5more`` cannot break a type guessed from its first rows.
A file that cannot be read (no such file, truncated Parquet, ragged or non-UTF-8 CSV, no
rows, a missing feature column) is a ``BatchFileError`` with a one-line message. Outputs
are written under a temporary name beside them and renamed when complete.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from car_evaluation_model.batch import (
    ERROR,
    MissingFeatureColumnsError,
    OutputColumnsError,
    check_columns,
    score,
)
from car_evaluation_model.predict import trained_table

FileFormat = Literal["csv", "parquet"]
FORMATS: dict[str, FileFormat] = {".csv": "csv", ".parquet": "parquet"}
MEDIA_TYPES: dict[FileFormat, str] = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
DEFAULT_CHUNK_ROWS = 500_000
CSV_BLOCK_BYTES = 8 * 1024 * 1024
TEXT_CHECK_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 200  # Arrow quotes the offending CSV row, which can be long

Source = str | Path | IO[bytes]


class BatchFileError(ValueError):
    """A file that cannot be scored; the message is one line that says why."""


class FileColumnsError(BatchFileError):
    """A file without a feature column (or with a column that scoring adds)."""


def format_of(path: str | Path) -> FileFormat:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise BatchFileError(f"{Path(path).name}: unsupported format {suffix or '(none)'!r}; use .csv or .parquet")
    return FORMATS[suffix]


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = "".join(character if character.isprintable() else repr(character)[1:-1] for character in text)
    return text if len(text) <= MAX_MESSAGE_CHARS else f"{text[:MAX_MESSAGE_CHARS]}..."


@contextlib.contextmanager
def readable(name: str) -> Iterator[None]:
    """Arrow's and the system's errors while reading ``name``, as ``BatchFileError``."""
    try:
        yield
    except FileNotFoundError:
        raise BatchFileError(f"{name}: no such file") from None
    except (MissingFeatureColumnsError, OutputColumnsError) as error:
        raise FileColumnsError(f"{name}: {error}") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        raise BatchFileError(f"{name}: cannot read it: {_one_line(error)}") from None


def _rewound(source: Source) -> Source:
    if not isinstance(source, str | Path):
        source.seek(0)
    return source


def _require_utf8(source: Source) -> None:
    """UTF-16 and the like parse as one ragged column: say what they are instead."""
    if isinstance(source, str | Path):
        with open(source, "rb") as file:
            head = file.read(TEXT_CHECK_BYTES)
    else:
        source.seek(0)
        head = source.read(TEXT_CHECK_BYTES)
    header = head.split(b"\n", 1)[0]
    try:
        header.decode("utf-8")
    except UnicodeDecodeError:
        if len(header) < TEXT_CHECK_BYTES:  # a cut at the end may split a character
            raise pa.ArrowInvalid("its header is not UTF-8 text; CSV files must be UTF-8") from None
    if b"\x00" in head:
        raise pa.ArrowInvalid("it holds NUL bytes: it is not UTF-8 text (UTF-16?); CSV files must be UTF-8")


def _csv_batches(source: Source) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    _require_utf8(source)
    read_options = pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    with pa_csv.open_csv(_rewound(source), read_options=read_options) as first_look:
        names = first_look.schema.names
    text = pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    reader = pa_csv.open_csv(_rewound(source), read_options=read_options, convert_options=text)
    return names, iter(reader)


@dataclass(frozen=True)
class Chunks:
    """A file's column names, its rows in tables of at most ``chunk_rows``, and its row count if known."""

    names: list[str]
    tables: Iterator[pa.Table]
    rows: int | None


def read_chunks(source: Source, file_format: FileFormat, chunk_rows: int) -> Chunks:
    """The file in tables of ``chunk_rows`` rows (the last may be shorter); its columns checked for scoring."""
    if file_format == "parquet":
        parquet = pq.ParquetFile(source)
        names = parquet.schema_arrow.names
        chunks = Chunks(
            names, _rechunked(parquet.iter_batches(batch_size=chunk_rows), chunk_rows), parquet.metadata.num_rows
        )
    else:
        names, csv_batches = _csv_batches(source)
        chunks = Chunks(names, _rechunked(csv_batches, chunk_rows), None)
    check_columns(names)
    return chunks


def _rechunked(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    waiting = 0
    for batch in batches:
        pending.append(batch)
        waiting += batch.num_rows
        while waiting >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, waiting = rest.to_batches(), rest.num_rows
    if waiting:
        yield pa.Table.from_batches(pending)


class TooManyRowsError(BatchFileError):
    """A file with more rows than one table may hold; ``limit`` is that number."""

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(f"{name} has more than {limit} rows")
        self.limit = limit


def read_table(source: Source, file_format: FileFormat, name: str, max_rows: int) -> pa.Table:
    """The whole file as one table: ``BatchFileError`` if it cannot be read, ``TooManyRowsError`` past ``max_rows``."""
    with readable(name):
        chunks = read_chunks(source, file_format, chunk_rows=max_rows + 1)
        if chunks.rows is not None and chunks.rows > max_rows:
            raise TooManyRowsError(name, max_rows)
        table = next(chunks.tables, None)  # reads at most one row past the limit
    if table is None or table.num_rows == 0:
        raise BatchFileError(f"{name}: no rows to score")
    if table.num_rows > max_rows:
        raise TooManyRowsError(name, max_rows)
    return table


class TableWriter:
    """Tables appended to one CSV or Parquet file, opened with the first table's schema."""

    def __init__(self, path: Path, file_format: FileFormat) -> None:
        self.path = path
        self.file_format = file_format
        self._writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            writer_class = pq.ParquetWriter if self.file_format == "parquet" else pa_csv.CSVWriter
            self._writer = writer_class(self.path, table.schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def table_bytes(table: pa.Table, file_format: FileFormat) -> bytes:
    sink = pa.BufferOutputStream()
    if file_format == "parquet":
        pq.write_table(table, sink)
    else:
        pa_csv.write_csv(table, sink)
    return bytes(sink.getvalue())


@contextlib.contextmanager
def written_in_full(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to it when the block succeeds, removed otherwise."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _write(
    writers: dict[Path, TableWriter],
    output_path: Path,
    scored: pa.Table,
    rejects_path: Path | None,
    refused: pa.Table | None,
) -> None:
    writers[output_path].write(scored)
    if rejects_path is not None:
        writers[rejects_path].write(refused)


@dataclass(frozen=True)
class Summary:
    rows: int
    rejected: int
    seconds: float

    @property
    def scored(self) -> int:
        return self.rows - self.rejected

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def score_file(
    input_path: Path,
    output_path: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    rejects_path: Path | None = None,
    progress: Callable[[int], Any] = lambda rows: None,
    total: Callable[[int | None], Any] = lambda rows: None,
) -> Summary:
    """Score ``input_path`` chunk by chunk into ``output_path`` (and the invalid rows into ``rejects_path``).

    ``total`` is told the row count when the input knows it, ``progress`` the rows of each chunk.
    """
    started = time.perf_counter()
    input_format = format_of(input_path)
    outputs = {output_path: format_of(output_path)}
    if rejects_path is not None:
        outputs[rejects_path] = format_of(rejects_path)
    rows = rejected = 0
    for path in outputs:
        if not path.parent.is_dir():
            raise BatchFileError(f"{path}: no such directory")
    with contextlib.ExitStack() as stack:
        writers: dict[Path, TableWriter] = {}
        for path, file_format in outputs.items():
            writers[path] = TableWriter(stack.enter_context(written_in_full(path)), file_format)
            stack.callback(writers[path].close)  # before the rename, or the removal on failure
        # Arrow reads and writes without the GIL: the model loads while the first chunk is
        # read, then each chunk is read and the one before written while another is scored.
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=2))
        model = pool.submit(trained_table)
        with readable(input_path.name):
            chunks = read_chunks(input_path, input_format, chunk_rows)
        total(chunks.rows)
        reading = pool.submit(next, chunks.tables, None)
        writing: Future[None] | None = None
        model.result()
        while True:
            with readable(input_path.name):
                chunk = reading.result()
            if chunk is None:
                break
            reading = pool.submit(next, chunks.tables, None)
            scored = score(chunk)
            refused = scored.filter(pc.is_valid(scored[ERROR])) if rejects_path is not None else None
            if writing is not None:
                writing.result()
            writing = pool.submit(_write, writers, output_path, scored, rejects_path, refused)
            rows += chunk.num_rows
            rejected += scored.num_rows - scored[ERROR].null_count
            progress(chunk.num_rows)
        if writing is not None:
            writing.result()
        if rows == 0:
            raise BatchFileError(f"{input_path.name}: no rows to score")
    return Summary(rows, rejected, time.perf_counter() - started)
