"""The command line on files as people have them, and on their mistakes and second thoughts.

Spreadsheet exports (``;``, tab or ``|`` separated, CRLF or CR, a capitalised or padded header,
Latin-1), standard input and output, ``--rejects`` naming the output or the input, a directory, a
place that cannot be written, and Ctrl+C or SIGTERM at any moment: each scores as the plain file
does, or stops with one line, leaving nothing half-written.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from car_evaluation_model.batch_files import read_batches
from tests.batch.test_files import COMMAND, cars_table, csv_bytes, parquet_bytes, run
from tests.conftest import API

FEATURES = ["buying", "maint", "doors", "persons", "lug_boot", "safety"]
SPREADSHEET_HEADER = "Id; Buying ;MAINT;Doors;persons;Lug_Boot;SAFETY"
INTERRUPTED = "car-evaluation-model: interrupted\n"
DEADLINE_S = 120


def spreadsheet_csv(table: pa.Table, delimiter: str, line_end: str = "\r\n") -> bytes:
    """``table`` as a spreadsheet saves it: ``delimiter``, CRLF (or ``line_end``), the header in its own spelling."""
    header = SPREADSHEET_HEADER.replace(";", delimiter)
    rows = zip(*(table[name].to_pylist() for name in table.column_names), strict=True)
    lines = [header, *(delimiter.join(row) for row in rows)]
    return (line_end.join(lines) + line_end).encode()


def predictions(path: Path) -> list[str | None]:
    scored = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(column_types={"prediction": pa.string()}))
    return list(scored["prediction"].to_pylist())


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_a_spreadsheet_export_scores_as_the_plain_file_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, delimiter: str
) -> None:
    table = cars_table(40)
    (tmp_path / "plain.csv").write_bytes(csv_bytes(table))
    (tmp_path / "export.csv").write_bytes(spreadsheet_csv(table, delimiter))
    assert run(capsys, "score", tmp_path / "plain.csv", tmp_path / "plain.scored.csv").returncode == 0
    completed = run(capsys, "score", tmp_path / "export.csv", tmp_path / "export.scored.csv")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("rows 40, scored 36, rejected 4, ")
    assert predictions(tmp_path / "export.scored.csv") == predictions(tmp_path / "plain.scored.csv")
    header = (tmp_path / "export.scored.csv").read_text().splitlines()[0]
    assert header.startswith('"Id","buying","maint","doors","persons","lug_boot","safety","prediction"')


def test_old_mac_line_ends_score_as_the_plain_file_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, client: TestClient
) -> None:
    """A lone carriage return ends each line (classic Mac OS, some exports): read, not refused."""
    table = cars_table(40)
    content = spreadsheet_csv(table, ";", line_end="\r")
    (tmp_path / "plain.csv").write_bytes(csv_bytes(table))
    (tmp_path / "cr.csv").write_bytes(content)
    assert run(capsys, "score", tmp_path / "plain.csv", tmp_path / "plain.scored.csv").returncode == 0
    completed = run(capsys, "score", tmp_path / "cr.csv", tmp_path / "cr.scored.csv")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("rows 40, scored 36, rejected 4, ")
    assert predictions(tmp_path / "cr.scored.csv") == predictions(tmp_path / "plain.scored.csv")
    uploaded = client.post(f"{API}/predict/file", files={"file": ("cr.csv", content, "text/csv")})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.headers["x-rows"] == "40"
    assert uploaded.headers["x-rows-rejected"] == "4"


def test_a_given_delimiter_is_used_as_given(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Commas inside the id column: the header holds more commas than semicolons.
    content = b"a,b,c,d,e,f,g,h;buying;maint;doors;persons;lug_boot;safety\n1,2,3,4,5,6,7,8;low;low;4;more;big;high\n"
    (tmp_path / "cars.csv").write_bytes(content)
    found = run(capsys, "score", tmp_path / "cars.csv", tmp_path / "out.csv")
    assert found.returncode == 1
    assert (
        "the columns found: 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h;buying;maint;doors;persons;lug_boot;safety'"
        in found.stderr
    )
    given = run(capsys, "score", tmp_path / "cars.csv", tmp_path / "out.csv", "--delimiter", ";")
    assert given.returncode == 0, given.stderr
    assert predictions(tmp_path / "out.csv") == ["vgood"]


def test_two_columns_naming_one_feature_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "cars.csv").write_bytes(b"buying,maint,doors,persons,lug_boot,safety, Safety\n")
    completed = run(capsys, "score", tmp_path / "cars.csv", tmp_path / "out.csv")
    assert completed.returncode == 1
    assert completed.stderr == (
        "car-evaluation-model: error: cars.csv: the columns 'safety' and ' Safety' both name safety\n"
    )


@pytest.mark.parametrize(
    ("owner", "suggested"),
    [
        ("Zoë".encode("cp1252"), "cp1252"),  # the same byte in Latin-1
        ("€ price".encode("cp1252"), "cp1252"),  # 0x80: a control character in Latin-1
        (b"Zo\xeb \x81", "latin-1"),  # 0x81 is no character in cp1252
    ],
)
def test_a_file_in_another_encoding_names_its_row_and_the_option_that_reads_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, owner: bytes, suggested: str
) -> None:
    content = b"buying;maint;doors;persons;lug_boot;safety;owner\r\n" + b"low;low;4;more;big;high;Ana\r\n" * 3
    (tmp_path / "cars.csv").write_bytes(content + b"low;low;4;more;big;high;" + owner + b"\r\n")
    refused = run(capsys, "score", tmp_path / "cars.csv", tmp_path / "out.csv")
    assert refused.returncode == 1
    assert refused.stderr == (
        "car-evaluation-model: error: cars.csv: row 4 (column owner) is not utf-8 text; "
        f"give its encoding, such as --encoding {suggested}\n"
    )
    assert not (tmp_path / "out.csv").exists()
    read = run(capsys, "score", tmp_path / "cars.csv", tmp_path / "out.csv", "--encoding", suggested)
    assert read.returncode == 0, read.stderr
    assert pa_csv.read_csv(tmp_path / "out.csv")["owner"].to_pylist()[-1] == owner.decode(suggested)


@pytest.mark.parametrize(("column", "suggested"), [("Prix €".encode("cp1252"), "cp1252"), (b"Preis \x81", "latin-1")])
def test_a_header_in_another_encoding_gets_the_option_that_reads_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, column: bytes, suggested: str
) -> None:
    content = b"buying,maint,doors,persons,lug_boot,safety," + column + b"\nlow,low,4,more,big,high,1\n"
    (tmp_path / "cars.csv").write_bytes(content)
    refused = run(capsys, "score", tmp_path / "cars.csv", tmp_path / "out.csv")
    assert refused.stderr == (
        "car-evaluation-model: error: cars.csv: its header is not utf-8 text; "
        f"give its encoding, such as --encoding {suggested}\n"
    )
    read = run(capsys, "score", tmp_path / "cars.csv", tmp_path / "out.csv", "--encoding", suggested)
    assert read.returncode == 0, read.stderr
    assert column.decode(suggested) in pa_csv.read_csv(tmp_path / "out.csv").column_names


def test_the_reader_for_the_service_reads_a_stream_in_chunks() -> None:
    """What the upload route can call: a stream in, tables of ``chunk_rows`` out, errors naming the file."""
    table = cars_table(25)
    chunks = read_batches(io.BytesIO(spreadsheet_csv(table, ";")), "csv", name="upload.csv", chunk_rows=10)
    assert chunks.names == ["Id", *FEATURES]
    sizes = [chunk.num_rows for chunk in chunks.tables]
    assert sizes == [10, 10, 5]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_stdin_and_stdout_are_dash(tmp_path: Path, suffix: str) -> None:
    table = cars_table(30)
    content = csv_bytes(table) if suffix == ".csv" else parquet_bytes(table)
    completed = subprocess.run(
        [str(COMMAND), "score", "-", "-"], input=content, capture_output=True, timeout=DEADLINE_S, check=False
    )
    assert completed.returncode == 0, completed.stderr
    scored = (
        pa_csv.read_csv(
            io.BytesIO(completed.stdout), convert_options=pa_csv.ConvertOptions(column_types={"id": pa.string()})
        )
        if suffix == ".csv"
        else pq.read_table(io.BytesIO(completed.stdout))
    )
    assert scored["id"].to_pylist() == table["id"].to_pylist()
    assert scored.num_rows == 30
    assert completed.stderr.decode().startswith("rows 30, scored 27, rejected 3, ")  # the summary leaves stdout alone


def test_a_reader_of_stdout_that_stops_ends_the_command_quietly(tmp_path: Path) -> None:
    """``score cars.csv - | head -1``: status 141, as a program SIGPIPE ends, and nothing on stderr.

    The rows are more than a pipe holds, so that the command is still writing when the reader goes.
    """
    source = tmp_path / "cars.csv"
    source.write_bytes(csv_bytes(cars_table(20_000)))
    with subprocess.Popen(
        [str(COMMAND), "score", source, "-", "--chunk-rows", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as command:
        assert command.stdout is not None
        assert command.stderr is not None
        assert command.stdout.readline().startswith(b'"id","buying"')
        command.stdout.close()
        assert command.wait(timeout=DEADLINE_S) == 128 + signal.SIGPIPE
        assert command.stderr.read() == b""


@pytest.mark.parametrize("same_as", ["output", "input"])
def test_rejects_into_the_output_or_the_input_are_refused_before_anything_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, same_as: str
) -> None:
    source = tmp_path / "cars.csv"
    source.write_bytes(csv_bytes(cars_table(20)))
    output = tmp_path / "scored.csv"
    output.write_bytes(b"an earlier output")
    rejects = output if same_as == "output" else source
    # The same file by another spelling of its path.
    completed = run(capsys, "score", source, output, "--rejects", tmp_path / "." / rejects.name)
    assert completed.returncode == 1
    assert f"is the {same_as}: give the rejects a file of their own" in completed.stderr
    assert output.read_bytes() == b"an earlier output"
    assert source.read_bytes() == csv_bytes(cars_table(20))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cars.csv", "scored.csv"]


@pytest.mark.parametrize("spelling", ["as given", "through ..", "absolute", "symlink"])
def test_an_output_naming_the_input_is_refused_before_anything_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    source = tmp_path / "cars.csv"
    source.write_bytes(csv_bytes(cars_table(20)))
    (tmp_path / "out" / "link.csv").symlink_to(source)
    output = {
        "as given": Path("cars.csv"),
        "through ..": Path("out/../cars.csv"),
        "absolute": source,
        "symlink": Path("out/link.csv"),
    }[spelling]
    completed = run(capsys, "score", "cars.csv", output)
    assert completed.returncode == 1
    assert completed.stderr == (
        f"car-evaluation-model: error: {output} is the input: give the scored rows a file of their own\n"
    )
    assert source.read_bytes() == csv_bytes(cars_table(20))
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*")) == [
        "cars.csv",
        "out",
        "out/link.csv",
    ]


def test_a_directory_is_named_as_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "cars.csv").write_bytes(csv_bytes(cars_table(3)))
    as_input = run(capsys, "score", tmp_path, tmp_path / "out.csv")
    assert as_input.stderr == f"car-evaluation-model: error: {tmp_path}: is a directory, not a file\n"
    (tmp_path / "out.csv").mkdir()
    as_output = run(capsys, "score", tmp_path / "cars.csv", tmp_path / "out.csv")
    assert (
        as_output.stderr == f"car-evaluation-model: error: {tmp_path / 'out.csv'}: is a directory; give a file name\n"
    )


@pytest.mark.parametrize("unwritable", ["output", "rejects"])
def test_a_place_that_cannot_be_written_is_named_as_given(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, unwritable: str
) -> None:
    """Not by the temporary name the output is written under. /sys takes no new file, even from root."""
    refused = Path("/sys/out.csv")
    with pytest.raises(OSError, match=r"probe\.csv") as probe:
        refused.with_name("probe.csv").touch()
    (tmp_path / "cars.csv").write_bytes(csv_bytes(cars_table(3)))
    output, rejects = (refused, tmp_path / "rejects.csv") if unwritable == "output" else (tmp_path / "out.csv", refused)
    completed = run(capsys, "score", tmp_path / "cars.csv", output, "--rejects", rejects)
    assert completed.returncode == 1
    reason = str(probe.value.strerror).lower()
    assert completed.stderr == f"car-evaluation-model: error: {refused}: cannot write it ({reason})\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cars.csv"]


def test_version_imports_neither_arrow_nor_scikit_learn() -> None:
    probe = (
        "import sys\nfrom car_evaluation_model.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(name for name in ('sklearn', 'pyarrow', 'pandas') if name in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=DEADLINE_S, check=True
    )
    assert completed.stdout.splitlines() == [f"car-evaluation-model {_version()}", "[]"]


def _version() -> str:
    from car_evaluation_model import __version__  # noqa: PLC0415

    return __version__


def wait_for(condition: object, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not callable(condition) or not condition():
        assert process.poll() is None, f"the command ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE_S} s"
        time.sleep(0.01)


def arrow_loaded(process: subprocess.Popen[bytes]) -> bool:
    """The command has started its imports: Arrow's library is mapped into it."""
    return "libarrow" in Path(f"/proc/{process.pid}/maps").read_text()


# The signal, the exit status it ends the command with, and its one line.
STOPPED_BY = {
    "Ctrl+C": (signal.SIGINT, 130, INTERRUPTED),
    "SIGTERM": (signal.SIGTERM, 143, "car-evaluation-model: terminated\n"),
}


@pytest.mark.parametrize("stopped_by", STOPPED_BY)
@pytest.mark.parametrize("moment", ["while importing", "while scoring"])
def test_ctrl_c_or_sigterm_ends_with_one_line_and_no_output(tmp_path: Path, moment: str, stopped_by: str) -> None:
    sent, status, line = STOPPED_BY[stopped_by]
    source = tmp_path / "cars.csv"
    source.write_bytes(csv_bytes(cars_table(300_000)))
    output = tmp_path / "scored.csv"
    process = subprocess.Popen(
        [str(COMMAND), "score", source, output, "--chunk-rows", "1000", "--rejects", tmp_path / "rejects.csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        if moment == "while importing":
            wait_for(lambda: arrow_loaded(process), process, "import of Arrow")
        else:
            wait_for(lambda: any(path.name.endswith(".part") for path in tmp_path.iterdir()), process, "output")
        process.send_signal(sent)
        stdout, stderr = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == status
    assert stderr.decode() == line
    assert stdout == b""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cars.csv"]
