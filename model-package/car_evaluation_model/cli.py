"""The ``car-evaluation-model`` command: ``score INPUT OUTPUT``, ``sql --dialect D --table NAME``.

Exit status: 0 when the file was scored (invalid rows are counted, not fatal), 1 with a
one-line message when it could not be (no such file, unreadable format, missing column),
2 for a wrong command line.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from tqdm import tqdm

from car_evaluation_model.batch_files import DEFAULT_CHUNK_ROWS, BatchFileError, score_file
from car_evaluation_model.config.core import config
from car_evaluation_model.sql import DialectName, script
from car_evaluation_model.version import __version__

PROG = "car-evaluation-model"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _table_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain table name (letters, digits, _)")
    return text


def parser() -> argparse.ArgumentParser:
    features = ", ".join(config.model.allowed_values)
    main = argparse.ArgumentParser(prog=PROG, description=f"The car evaluation model {__version__}, offline.")
    main.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    score = commands.add_parser(
        "score",
        help="score a CSV or Parquet file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""Score every row of INPUT into OUTPUT.

INPUT needs the feature columns {features}; any other column is copied through,
in order. OUTPUT adds prediction, probability_<class> for each class, and error
(empty when the row is valid; else the same message /api/v1/predict gives).
The format of each file is its extension: .csv or .parquet (CSV in, Parquet out works).

The file is read and written in chunks of --chunk-rows rows, so memory stays flat
however large it is. OUTPUT appears only when complete (it is written under a
temporary name and renamed). A progress bar shows on a terminal; a summary line
(rows, scored, rejected, rows/s) is printed at the end.

Exit status: 0 when the file was scored, even with rejected rows; 1 with a one-line
message when it could not be (no such file, unreadable format, a missing column).""",
    )
    score.add_argument("input", type=Path, metavar="INPUT", help="the .csv or .parquet file to score")
    score.add_argument("output", type=Path, metavar="OUTPUT", help="where to write the scored .csv or .parquet")
    score.add_argument(
        "--chunk-rows",
        type=_positive,
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"rows read, scored and written at a time (default {DEFAULT_CHUNK_ROWS:,})",
    )
    score.add_argument(
        "--rejects", type=Path, metavar="FILE", help="also write the invalid rows, with their error, to FILE"
    )
    sql = commands.add_parser(
        "sql",
        help="print a SQL script that scores a table inside a database",
        description="Print a script creating NAME_model, every car with its prediction and class probabilities, "
        "and the view NAME_scored: the table NAME with the columns score adds (error: the API's messages).",
    )
    sql.add_argument("--dialect", required=True, choices=get_args(DialectName), help="the database's SQL")
    sql.add_argument("--table", required=True, type=_table_name, metavar="NAME", help="the table of cars to score")
    return main


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    if arguments.command == "sql":
        sys.stdout.write(script(arguments.table, arguments.dialect))
        return 0
    with tqdm(unit=" rows", unit_scale=True, disable=not sys.stderr.isatty(), file=sys.stderr) as bar:

        def total(rows: int | None) -> None:
            bar.total = rows

        try:
            summary = score_file(
                arguments.input,
                arguments.output,
                chunk_rows=arguments.chunk_rows,
                rejects_path=arguments.rejects,
                progress=bar.update,
                total=total,
            )
        except (BatchFileError, OSError) as error:
            bar.close()
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
    print(
        f"rows {summary.rows}, scored {summary.scored}, rejected {summary.rejected}, "
        f"{summary.rows_per_second:,.0f} rows/s ({summary.seconds:.2f} s) -> {arguments.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
