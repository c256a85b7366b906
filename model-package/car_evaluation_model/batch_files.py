"""Scoring CSV and Parquet files with ``batch.score``: in chunks, and never a half-written output.

The format is the file's extension (``.csv``, ``.parquet``); standard input (``-``) is Parquet
when it starts as Parquet does, else CSV. Every CSV column is read as text, as it is written
(``csv_reading``), so that other columns pass through unchanged (``007`` stays ``007``) and a
feature's later ``5more`` cannot break a type guessed from its first rows. Feature columns are
found whatever the case and surrounding spaces of their names, and renamed to the feature's
name. A file that cannot be read (no such file, a directory, truncated Parquet, a ragged or
mis-encoded CSV row, no rows, a missing feature column) is a ``BatchFileError`` with a one-line
message naming the file and, where known, the line, row and column. Outputs are written under
a temporary name beside them and renamed when complete.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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
from car_evaluation_model.config.core import config
from car_evaluation_model.csv_reading import CSV_BLOCK_BYTES, Reopen, Replayed, csv_batches, one_line, read_header
from car_evaluation_model.file_formats import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_ENCODING,
    FORMATS,
    MEDIA_TYPES,
    PARQUET_MAGIC,
    STDIO,
    BatchFileError,
    FileFormat,
    format_of,
)
from car_evaluation_model.predict import trained_table

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "FORMATS",
    "MEDIA_TYPES",
    "BatchFileError",
    "Chunks",
    "FileColumnsError",
    "FileFormat",
    "Summary",
    "TooManyRowsError",
    "read_batches",
    "read_table",
    "score_file",
    "table_bytes",
]

Source = str | Path | IO[bytes] | bytes


class FileColumnsError(BatchFileError):
    """A file without a feature column (or with a column that scoring adds)."""


@contextlib.contextmanager
def readable(name: str) -> Iterator[None]:
    """Arrow's and the system's errors while reading ``name``, as ``BatchFileError``."""
    try:
        yield
    except FileNotFoundError:
        raise BatchFileError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise BatchFileError(f"{name}: is a directory, not a file") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        raise BatchFileError(f"{name}: cannot read it: {one_line(str(error))}") from None


def feature_columns(names: Sequence[str], name: str) -> list[str]:
    """``names`` with each feature's column renamed to the feature (found whatever its case and spaces), checked."""
    features = {feature.casefold(): feature for feature in config.model.allowed_values}
    renamed: list[str] = []
    written: dict[str, str] = {}
    for column in names:
        feature = features.get(column.strip().casefold())
        if feature is None:
            renamed.append(column)
            continue
        if feature in written:
            raise FileColumnsError(f"{name}: the columns {written[feature]!r} and {column!r} both name {feature}")
        written[feature] = column
        renamed.append(feature)
    try:
        check_columns(renamed)
    except MissingFeatureColumnsError as error:
        found = ", ".join(repr(column) for column in names)
        raise FileColumnsError(f"{name}: {error}; the columns found: {one_line(found)}") from None
    except OutputColumnsError as error:
        raise FileColumnsError(f"{name}: {error}") from None
    return renamed


@dataclass(frozen=True)
class Chunks:
    """A file's columns (features named as theirs), its rows in tables of ``chunk_rows`` at most, its rows if known."""

    names: list[str]
    tables: Iterator[pa.Table]
    rows: int | None


def read_batches(
    source: Source,
    file_format: FileFormat,
    *,
    name: str,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    delimiter: str | None = None,
    encoding: str = DEFAULT_ENCODING,
    csv_block_bytes: int = CSV_BLOCK_BYTES,
) -> Chunks:
    """``source`` (a path, bytes or a binary stream) in tables of ``chunk_rows`` rows (the last may be shorter).

    Its columns are checked for scoring before it returns. ``delimiter`` and ``encoding`` are the
    CSV's (the delimiter found in the header when None), and ``csv_block_bytes`` how much of it is
    parsed at a time (``csv_reading.csv_batches``). Any problem, now or while the tables are
    read, is a ``BatchFileError`` whose one-line message starts with ``name``. A stream is read once,
    front to back (a Parquet stream that cannot seek is read whole first, as Parquet keeps its
    index at the end).
    """
    with readable(name):
        if file_format == "parquet":
            parquet = pq.ParquetFile(_seekable(source))
            names = feature_columns(parquet.schema_arrow.names, name)
            renamed = (batch.rename_columns(names) for batch in parquet.iter_batches(batch_size=chunk_rows))
            return Chunks(names, _rechunked(_read(renamed, name), chunk_rows), parquet.metadata.num_rows)
        rows: IO[bytes] | str
        reopen: Reopen | None
        if isinstance(source, str | Path):
            path = Path(source)
            with path.open("rb") as file:
                header = read_header(file, name, encoding, delimiter)
            rows, reopen = str(path), lambda: path.open("rb")  # Arrow reads a path without Python
        else:
            rows, reopen = _opened(source)
            header = read_header(rows, name, encoding, delimiter)
        names = feature_columns(header.names, name)
        batches = csv_batches(
            rows, header, names, name=name, encoding=encoding, reopen=reopen, block_bytes=csv_block_bytes
        )
        return Chunks(names, _rechunked(_read(batches, name), chunk_rows), None)


def _seekable(source: Source) -> str | Path | IO[bytes] | pa.BufferReader:
    if isinstance(source, bytes):
        return pa.BufferReader(source)
    if isinstance(source, str | Path) or source.seekable():
        return source
    return pa.BufferReader(source.read())


def _opened(source: bytes | IO[bytes]) -> tuple[IO[bytes], Reopen | None]:
    """A binary stream at ``source``'s start, and how to read it from the start again (None: it cannot be)."""
    if isinstance(source, bytes):
        return io.BytesIO(source), lambda: contextlib.nullcontext(io.BytesIO(source))
    if source.seekable():
        start = source.tell()

        def rewound() -> contextlib.nullcontext[IO[bytes]]:
            source.seek(start)
            return contextlib.nullcontext(source)

        return source, rewound
    return source, None


def _read(batches: Iterator[pa.RecordBatch], name: str) -> Iterator[pa.RecordBatch]:
    """``batches``, with any error while reading them as ``BatchFileError`` naming ``name``."""
    with readable(name):
        yield from batches


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
    chunks = read_batches(source, file_format, name=name, chunk_rows=max_rows + 1)
    if chunks.rows is not None and chunks.rows > max_rows:
        raise TooManyRowsError(name, max_rows)
    table = next(chunks.tables, None)  # reads at most one row past the limit
    if table is None or table.num_rows == 0:
        raise BatchFileError(f"{name}: no rows to score")
    if table.num_rows > max_rows:
        raise TooManyRowsError(name, max_rows)
    return table


class TableWriter:
    """Tables appended to one CSV or Parquet file (or stream), opened with the first table's schema.

    ``name`` is the output in messages: a column CSV cannot hold (a list, a struct) is a
    ``BatchFileError`` naming it, raised before anything is written.
    """

    def __init__(self, sink: Path | IO[bytes], file_format: FileFormat, name: str = "the output") -> None:
        self.sink = sink
        self.file_format = file_format
        self.name = name
        self._writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            if self.file_format == "parquet":
                self._writer = pq.ParquetWriter(self.sink, table.schema)
            else:
                _check_csv_columns(table.schema, self.name)
                self._writer = pa_csv.CSVWriter(self.sink, table.schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _check_csv_columns(schema: pa.Schema, name: str) -> None:
    """``BatchFileError`` naming the first column Arrow's CSV writer refuses (it names only the type)."""
    for field in schema:
        try:
            pa_csv.CSVWriter(pa.BufferOutputStream(), pa.schema([field])).close()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise BatchFileError(
                f"{name}: the column {field.name!r} is {field.type}, which CSV cannot hold; "
                "write Parquet, or leave the column out"
            ) from None


def table_bytes(table: pa.Table, file_format: FileFormat) -> bytes:
    sink = pa.BufferOutputStream()
    if file_format == "parquet":
        pq.write_table(table, sink)
    else:
        pa_csv.write_csv(table, sink)
    return bytes(sink.getvalue())


@contextlib.contextmanager
def written_in_full(path: Path) -> Iterator[Path | IO[bytes]]:
    """A temporary path beside ``path``, renamed to it when the block succeeds, removed otherwise.

    For ``-``, standard output, which is written as the rows come.
    """
    if path == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        # Created here, so that a place that cannot be written is named as the user gave it,
        # not by the temporary name Arrow would report.
        temporary.touch()
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise BatchFileError(f"{path}: cannot write it ({reason})") from None
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

    @property
    def scored(self) -> int:
        return self.rows - self.rejected


def shown_name(path: Path) -> str:
    return "standard input/output" if path == STDIO else str(path)


def _input(input_path: Path) -> tuple[Source, FileFormat, str]:
    """What to read, its format and its name in messages; ``-``: stdin, Parquet if it starts as Parquet does."""
    if input_path != STDIO:
        if input_path.is_dir():
            raise BatchFileError(f"{input_path}: is a directory, not a file")
        return input_path, format_of(input_path), input_path.name
    stdin = sys.stdin.buffer
    head = stdin.read(len(PARQUET_MAGIC))
    stream = io.BufferedReader(Replayed(head, stdin))
    return stream, "parquet" if head == PARQUET_MAGIC else "csv", "standard input"


def _outputs(
    input_path: Path, input_format: FileFormat, output_path: Path, rejects_path: Path | None
) -> dict[Path, FileFormat]:
    """Each output's format (``-``: the input's), once every output is known to be writable and distinct."""
    paths = [output_path] if rejects_path is None else [output_path, rejects_path]
    for path in paths:  # before the format, which a directory's name does not have
        if path == STDIO:
            continue
        if path.is_dir():
            raise BatchFileError(f"{path}: is a directory; give a file name")
        if not path.parent.is_dir():
            raise BatchFileError(f"{path}: no such directory")
    outputs = {path: input_format if path == STDIO else format_of(path) for path in paths}
    # Standard input and standard output are two streams: "- -" is a pipe, not one file twice.
    if STDIO not in (input_path, output_path) and _same(output_path, input_path):
        raise BatchFileError(f"{output_path} is the input: give the scored rows a file of their own")
    if rejects_path is not None:
        for other, what in ((output_path, "the output"), (input_path, "the input")):
            if _same(rejects_path, other):
                raise BatchFileError(
                    f"--rejects {shown_name(rejects_path)} is {what}: give the rejects a file of their own"
                )
    return outputs


def _same(path: Path, other: Path) -> bool:
    if STDIO in (path, other):
        return path == other
    return path.resolve() == other.resolve() or (path.exists() and other.exists() and os.path.samefile(path, other))


def score_file(
    input_path: Path,
    output_path: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    rejects_path: Path | None = None,
    delimiter: str | None = None,
    encoding: str = DEFAULT_ENCODING,
    progress: Callable[[int], Any] = lambda rows: None,
    total: Callable[[int | None], Any] = lambda rows: None,
) -> Summary:
    """Score ``input_path`` chunk by chunk into ``output_path`` (and the invalid rows into ``rejects_path``).

    ``-`` is standard input or output. ``delimiter`` and ``encoding`` are a CSV input's (the
    delimiter found in its header when None). ``total`` is told the row count when the input
    knows it, ``progress`` the rows of each chunk. Nothing is written unless every argument is good.
    """
    source, input_format, name = _input(input_path)
    outputs = _outputs(input_path, input_format, output_path, rejects_path)
    rows = rejected = 0
    with contextlib.ExitStack() as stack:
        writers: dict[Path, TableWriter] = {}
        for path, file_format in outputs.items():  # each file is created by its first write
            writers[path] = TableWriter(stack.enter_context(written_in_full(path)), file_format, shown_name(path))
            stack.callback(writers[path].close)  # before the rename, or the removal on failure
        # Arrow reads and writes without the GIL: the model loads while the first chunk is
        # read, then each chunk is read and the one before written while another is scored.
        # The pool is left first, so that no write is running when the writers close.
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=2))
        model = pool.submit(trained_table)
        chunks = read_batches(
            source, input_format, name=name, chunk_rows=chunk_rows, delimiter=delimiter, encoding=encoding
        )
        total(chunks.rows)
        reading = pool.submit(next, chunks.tables, None)
        writing: Future[None] | None = None
        model.result()
        while (chunk := reading.result()) is not None:
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
            raise BatchFileError(f"{name}: no rows to score")
    return Summary(rows, rejected)
