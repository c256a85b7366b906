"""``python -m app.ledger migrate | labels FILE | export --since --until OUT.parquet``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from app.config import InvalidSettingsError, load_settings
from app.ledger.export import export
from app.ledger.labels import LABEL_FIELDS, MAX_ROW, check_labels
from app.ledger.ledger import LedgerUnavailableError, database_reached
from app.ledger.schema import migrate
from app.ledger.settings import LedgerDirectoryError, LedgerSettings
from app.ledger.store import Store, open_store, utc_time

MAX_SHOWN_ERRORS = 20


PROG = "python -m app.ledger"
USAGE_ERROR = 2


class CommandError(Exception):
    """A mistake or a failure the command reports on one line (exit status 2), not as a traceback."""


def _store() -> Store:
    try:
        settings = load_settings(LedgerSettings)
    except InvalidSettingsError as error:  # one line, as the service words it
        raise CommandError(str(error)) from None
    url = settings.database_url()
    if url is None:
        raise CommandError("the ledger is off (LEDGER_URL=off)")
    try:
        settings.make_directories()
    except LedgerDirectoryError as error:
        raise CommandError(str(error)) from None
    store = open_store(url)
    with database_reached():  # unreachable: said by main, as when the database goes away later
        migrate(store.engine)
    return store


def _label_table(path: Path) -> pa.Table:
    """The file's request_id, row and label columns; a CSV's read as text, so that each label gets its own error."""
    try:
        if path.suffix == ".parquet":
            parquet = pq.ParquetFile(path)
            _check_columns(path, parquet.schema_arrow.names)
            return parquet.read(columns=list(LABEL_FIELDS))
        convert = pa_csv.ConvertOptions(column_types=dict.fromkeys(LABEL_FIELDS, pa.string()))
        table = pa_csv.read_csv(path, convert_options=convert)
    except (OSError, pa.ArrowInvalid) as error:
        raise CommandError(f"cannot read {path}: {error}") from None
    _check_columns(path, table.column_names)
    return table.select(list(LABEL_FIELDS))


def _check_columns(path: Path, names: list[str]) -> None:
    missing = [name for name in LABEL_FIELDS if name not in names]
    if missing:
        columns = ",".join(LABEL_FIELDS)
        raise CommandError(f"{path} has no column {', '.join(missing)}: a labels file has the columns {columns}")


def _whole_number(text: str | None) -> int | str | None:
    """A CSV's row as a number when it is one (spaces around it allowed); otherwise as written, for its error."""
    digits = None if text is None else text.strip()
    if digits is None or not (digits.isascii() and digits.isdecimal()) or len(digits) > len(str(MAX_ROW)):
        return text
    return int(digits)


def _labels(path: Path) -> int:
    """Load a CSV or Parquet file of request_id,row,label: all of it, or nothing if any label is wrong."""
    labels = _label_table(path).to_pylist()
    if path.suffix != ".parquet":
        labels = [{**label, "row": _whole_number(label["row"])} for label in labels]
    valid, errors = check_labels(labels)
    problems = [error for error in errors if error is not None]
    for problem in problems[:MAX_SHOWN_ERRORS]:
        print(f"label {problem['index']} (data row {problem['index'] + 1}): {problem['message']}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} of {len(labels)} labels refused; nothing loaded", file=sys.stderr)
        return 1
    if not valid:
        print(f"0 labels loaded: {path} holds none")
        return 0
    store = _store()
    with database_reached():
        store.add_labels(valid)
    store.close()
    print(f"{len(valid)} labels loaded")
    return 0


def _export(out: Path, since: datetime | None, until: datetime | None) -> None:
    if out.suffix != ".parquet":
        raise CommandError(f"the export is a Parquet file: name it *.parquet, not {out.name}")
    if not out.parent.is_dir():
        raise CommandError(f"cannot write {out}: no directory {out.parent}")
    store = _store()
    with database_reached():
        count = export(store, out, since=since, until=until)
    store.close()
    print(f"{count} predictions written to {out}")


def iso_time(text: str) -> datetime:
    return utc_time(datetime.fromisoformat(text))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="The prediction ledger's commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or migrate the ledger's tables (the service also does at start)")
    labels = commands.add_parser("labels", help="load true labels from a CSV or Parquet file of request_id,row,label")
    labels.add_argument("file", type=Path)
    exporting = commands.add_parser("export", help="write predictions with their latest labels to Parquet")
    exporting.add_argument("--since", type=iso_time, help="from this time (ISO 8601; UTC if no zone), included")
    exporting.add_argument("--until", type=iso_time, help="to this time (ISO 8601; UTC if no zone), excluded")
    exporting.add_argument("out", type=Path)
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "labels":
            return _labels(arguments.file)
        if arguments.command == "export":
            _export(arguments.out, arguments.since, arguments.until)
        else:
            _store().close()
    except LedgerUnavailableError as error:
        print(f"{PROG}: error: cannot reach the ledger's database: {error.reason}", file=sys.stderr)
        return USAGE_ERROR
    except CommandError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
