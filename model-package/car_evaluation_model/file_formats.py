"""What a batch file may be, and the SQL dialects ``sql`` writes, without importing Arrow or the
model: the command line's ``--help`` and ``--version`` read it, and so do ``batch_files``, which
reads and writes the files, and ``sql``."""

from __future__ import annotations

import re
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
# The names ``sql`` derives from a table's: its model table and its scored view.
MODEL_TABLE_SUFFIX = "_model"
SCORED_VIEW_SUFFIX = "_scored"
# PostgreSQL cuts a longer name to its first 63 bytes, silently: a derived name cut back to the
# table's own would have the script drop the user's table. One limit for every dialect.
MAX_IDENTIFIER_CHARS = 63
MAX_TABLE_NAME_CHARS = MAX_IDENTIFIER_CHARS - max(len(MODEL_TABLE_SUFFIX), len(SCORED_VIEW_SUFFIX))


class BatchFileError(ValueError):
    """A file that cannot be scored; the message is one line that says why."""


def format_of(path: str | Path) -> FileFormat:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise BatchFileError(f"{Path(path).name}: unsupported format {suffix or '(none)'!r}; use .csv or .parquet")
    return FORMATS[suffix]


def check_table_name(name: str) -> None:
    """``ValueError`` unless ``name`` is a plain table name whose derived names keep their own identity."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"{name!r} is not a plain table name (letters, digits, _)")
    if len(name) > MAX_TABLE_NAME_CHARS:
        raise ValueError(
            f"{name!r} is {len(name)} characters long, more than {MAX_TABLE_NAME_CHARS}: {name}{SCORED_VIEW_SUFFIX} "
            f"would pass the {MAX_IDENTIFIER_CHARS} characters a database keeps of a name"
        )
