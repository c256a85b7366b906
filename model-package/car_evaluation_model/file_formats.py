"""What a batch file may be, and the SQL dialects ``sql`` writes, without importing Arrow or the
model: the command line's ``--help`` and ``--version`` read it, and so do ``batch_files``, which
reads and writes the files, and ``sql``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

FileFormat = Literal["csv", "parquet"]
SqlDialect = Literal["duckdb", "postgresql", "spark"]
FORMATS: dict[str, FileFormat] = {".csv": "csv", ".parquet": "parquet"}
MEDIA_TYPES: dict[FileFormat, str] = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
DEFAULT_CHUNK_ROWS = 500_000
# The delimiters a CSV header is searched for, when none is given: a spreadsheet saves `;` where
# the decimal mark is a comma, and tab or `|` in "text" exports.
DELIMITERS = (",", ";", "\t", "|")
DEFAULT_ENCODING = "utf-8"
# The command line's name for standard input (when reading) and standard output (when writing).
STDIO = Path("-")
PARQUET_MAGIC = b"PAR1"


class BatchFileError(ValueError):
    """A file that cannot be scored; the message is one line that says why."""


def format_of(path: str | Path) -> FileFormat:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise BatchFileError(f"{Path(path).name}: unsupported format {suffix or '(none)'!r}; use .csv or .parquet")
    return FORMATS[suffix]
