"""The ``car-evaluation-model`` command: ``score INPUT OUTPUT``, ``sql --dialect D --table NAME``.

Exit status: 0 when the file was scored (invalid rows are counted, not fatal), 1 with a
one-line message when it could not be (no such file, unreadable format, missing column),
2 for a wrong command line, 130 when interrupted (Ctrl+C), 143 when terminated (SIGTERM: a
timeout, ``kill``, ``docker stop``), each leaving no output behind; 141, silently, when the
reader of standard output stopped reading (``| head``), as a program ended by SIGPIPE.

Arrow, pandas and scikit-learn are imported only when a file is scored, so that ``--version``
and ``--help`` answer at once, and Ctrl+C while they load is the same one line as later.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import get_args

from car_evaluation_model.file_formats import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_ENCODING,
    DELIMITERS,
    MAX_TABLE_NAME_CHARS,
    SqlDialect,
    check_table_name,
)
from car_evaluation_model.version import __version__

PROG = "car-evaluation-model"
TERMINATED_STATUS = 128 + signal.SIGTERM
READER_GONE_STATUS = 128 + signal.SIGPIPE


class Terminated(BaseException):
    """SIGTERM, raised where the command is, as Ctrl+C raises KeyboardInterrupt: cleanup code runs."""


@contextlib.contextmanager
def _terminated_as_exception() -> Iterator[None]:
    # Python's default for SIGTERM ends the process at once, skipping every finally: a temporary
    # output would be left behind.
    def terminated(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0  # argparse would name this function in its message
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, not {text!r}")
    return value


def _table_name(text: str) -> str:
    try:
        check_table_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t"}
    delimiter = named.get(text, text)
    if len(delimiter) != 1:
        raise argparse.ArgumentTypeError(f"must be one character (or tab), not {text!r}")
    return delimiter


def parser() -> argparse.ArgumentParser:
    from car_evaluation_model.config.core import config  # noqa: PLC0415 (pydantic, for --help only)

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
INPUT - reads standard input (Parquet if it starts as Parquet does, else CSV) and
OUTPUT - writes standard output, in the input's format. A CSV's delimiter is found
in its header (one of , ; tab |) unless --delimiter gives it; the feature columns'
names are matched whatever their case and surrounding spaces.

The file is read and written in chunks of --chunk-rows rows, so memory stays flat
however large it is. OUTPUT appears only when complete (it is written under a
temporary name and renamed). A progress bar shows on a terminal; a summary line
(rows, scored, rejected, rows/s over the whole run, start-up and model loading
included) is printed at the end.

Exit status: 0 when the file was scored, even with rejected rows; 1 with a one-line
message when it could not be (no such file, unreadable format, a missing column);
130 when interrupted (Ctrl+C), 143 when terminated (SIGTERM), leaving no OUTPUT;
141, silently, when the reader of OUTPUT - stopped reading (| head).""",
    )
    score.add_argument("input", type=Path, metavar="INPUT", help="the .csv or .parquet file to score (-: stdin)")
    score.add_argument(
        "output", type=Path, metavar="OUTPUT", help="where to write the scored .csv or .parquet (-: stdout)"
    )
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
    score.add_argument(
        "--delimiter",
        type=_delimiter,
        metavar="CHAR",
        help=f"the CSV input's delimiter, or tab (default: found in its header among {' '.join(DELIMITERS)!r})",
    )
    score.add_argument(
        "--encoding",
        default=DEFAULT_ENCODING,
        metavar="NAME",
        help=f"the CSV input's encoding, such as latin-1 or cp1252 (default {DEFAULT_ENCODING})",
    )
    sql = commands.add_parser(
        "sql",
        help="print a SQL script that scores a table inside a database",
        description="Print a script creating NAME_model, every car with its prediction and class probabilities, "
        "and the view NAME_scored: the table NAME with the columns score adds (error: the API's messages).",
    )
    sql.add_argument("--dialect", required=True, choices=get_args(SqlDialect), help="the database's SQL")
    sql.add_argument(
        "--table",
        required=True,
        type=_table_name,
        metavar="NAME",
        help=f"the table of cars to score (letters, digits, _; at most {MAX_TABLE_NAME_CHARS} characters)",
    )
    return main


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    try:
        with _terminated_as_exception():
            arguments = parser().parse_args(argv)
            if arguments.command == "sql":
                return print_sql(arguments.table, arguments.dialect)
            return score(arguments, started)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return TERMINATED_STATUS
    except BrokenPipeError:
        # Not an error of the file. Python's recipe (the signal module's note on SIGPIPE): standard
        # output onto devnull, so that its flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return READER_GONE_STATUS


def print_sql(table: str, dialect: SqlDialect) -> int:
    from car_evaluation_model.sql import script  # noqa: PLC0415 (the heavy imports: see the module's docstring)

    sys.stdout.write(script(table, dialect))
    return 0


def score(arguments: argparse.Namespace, started: float) -> int:
    from tqdm import tqdm  # noqa: PLC0415 (the heavy imports: see the module's docstring)

    from car_evaluation_model.batch_files import BatchFileError, score_file  # noqa: PLC0415
    from car_evaluation_model.csv_reading import FileEncodingError  # noqa: PLC0415

    with tqdm(unit=" rows", unit_scale=True, disable=not sys.stderr.isatty(), file=sys.stderr) as bar:

        def total(rows: int | None) -> None:
            bar.total = rows

        try:
            summary = score_file(
                arguments.input,
                arguments.output,
                chunk_rows=arguments.chunk_rows,
                rejects_path=arguments.rejects,
                delimiter=arguments.delimiter,
                encoding=arguments.encoding,
                progress=bar.update,
                total=total,
            )
        except FileEncodingError as error:
            bar.close()
            print(f"{PROG}: error: {error}; give its encoding, such as --encoding {error.likely}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            raise  # main's: the reader of standard output is gone
        except (BatchFileError, OSError, LookupError) as error:
            bar.close()
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
    seconds = time.perf_counter() - started
    rate = summary.rows / seconds if seconds > 0 else float("inf")
    # On stderr when the scored rows go to stdout.
    print(
        f"rows {summary.rows}, scored {summary.scored}, rejected {summary.rejected}, "
        f"{rate:,.0f} rows/s ({seconds:.2f} s), start-up and model loading included -> {arguments.output}",
        file=sys.stderr if arguments.output == Path("-") else sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
