"""``python -m app.ledger migrate | labels FILE | export --since --until OUT.parquet``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from app.config import InvalidSettingsError, load_settings
from app.ledger.export import export
from app.ledger.labels import LABEL_FIELDS, check_labels
from app.ledger.schema import migrate
from app.ledger.settings import LedgerSettings
from app.ledger.store import Store, open_store

MAX_SHOWN_ERRORS = 20


PROG = "python -m app.ledger"
USAGE_ERROR = 2


def _store() -> Store:
    try:
        url = load_settings(LedgerSettings).database_url()
    except InvalidSettingsError as error:  # one line, as the service words it
        print(f"{PROG}: error: {error}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR) from None
    if url is None:
        sys.exit("the ledger is off (LEDGER_URL=off)")
    store = open_store(url)
    migrate(store.engine)
    return store


def _labels(path: Path) -> int:
    """Load a CSV or Parquet file of request_id,row,label: all of it, or nothing if any label is wrong."""
    if path.suffix == ".parquet":
        table = pq.read_table(path, columns=list(LABEL_FIELDS))
    else:
        convert = pa_csv.ConvertOptions(column_types={"request_id": "string", "label": "string"})
        table = pa_csv.read_csv(path, convert_options=convert).select(list(LABEL_FIELDS))
    valid, errors = check_labels(table.to_pylist())
    problems = [error for error in errors if error is not None]
    for problem in problems[:MAX_SHOWN_ERRORS]:
        print(f"label {problem['index']} (data row {problem['index'] + 1}): {problem['message']}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} labels refused; nothing loaded", file=sys.stderr)
        return 1
    store = _store()
    store.add_labels(valid)
    store.close()
    print(f"{len(valid)} labels loaded")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="The prediction ledger's commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or migrate the ledger's tables (the service also does at start)")
    labels = commands.add_parser("labels", help="load true labels from a CSV or Parquet file of request_id,row,label")
    labels.add_argument("file", type=Path)
    exporting = commands.add_parser("export", help="write predictions with their latest labels to Parquet")
    exporting.add_argument("--since", type=datetime.fromisoformat, help="from this time (ISO 8601), included")
    exporting.add_argument("--until", type=datetime.fromisoformat, help="to this time (ISO 8601), excluded")
    exporting.add_argument("out", type=Path)
    arguments = parser.parse_args(argv)
    if arguments.command == "labels":
        return _labels(arguments.file)
    store = _store()
    if arguments.command == "export":
        count = export(store, arguments.out, since=arguments.since, until=arguments.until)
        print(f"{count} predictions written to {arguments.out}")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
