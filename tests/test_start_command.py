"""The start command's mistakes and its stop: one line for a bad setting or a port in use, no leftovers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import InvalidSettingsError, Settings, load_settings
from devtools import REPO_ROOT
from devtools.processes import free_port, running_process

RUN_TIMEOUT_S = 120
# Two workers each load the model on a shared machine: more than the usual 30 s to be ready.
READY_TIMEOUT_S = 120


def start(
    arguments: list[str], environment: dict[str, str], *, python_options: tuple[str, ...] = ()
) -> tuple[int, str]:
    """``python -m app`` run to its end: its exit status and what it wrote to stderr."""
    run = run_to_end(arguments, environment, python_options=python_options)
    return run.returncode, run.stderr


def run_to_end(
    arguments: list[str], environment: dict[str, str], *, python_options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``python -m app`` run to its end, in the test's environment less uvicorn's options."""
    return subprocess.run(
        [sys.executable, *python_options, "-m", "app", *arguments],
        cwd=REPO_ROOT,
        env={**environment_without_uvicorns(), **environment},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def environment_without_uvicorns() -> dict[str, str]:
    """The test's environment less uvicorn's own options (``tox -e run`` sets the address so)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("UVICORN_")}


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("MAX_ROWS_PER_REQUEST", "ten", "valid integer"),
        ("MAX_ROWS_PER_REQUEST", "0", "greater than or equal to 1"),
        ("LOG_LEVEL", "loud", "'DEBUG'"),
        ("LEDGER_WHEN_FULL", "wait", "'count' or 'refuse'"),
        ("API_V1_STR", "api", "starts with / and does not end with one"),
        ("API_V1_STR", "/api/", "starts with / and does not end with one"),
    ],
)
def test_a_setting_that_does_not_validate_is_one_line_naming_it_its_value_and_what_is_allowed(
    name: str, value: str, allowed: str
) -> None:
    status, stderr = start(["--port", str(free_port())], {name: value})
    assert status == 2
    assert len(stderr.splitlines()) == 1, stderr
    assert f"{name}={value!r}" in stderr
    assert allowed in stderr


def refusal_unshown(name: str, value: str, secret: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The settings' refusal of ``value`` for ``name``, which must not repeat ``secret``, a part of it."""
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSettingsError) as refused:
        load_settings(Settings)
    message = str(refused.value)
    assert secret not in message
    return message


@pytest.mark.parametrize("token", ["s3cret", "a token with spaces in it", "tökentökentökentöken"])
def test_a_feedback_token_no_client_could_send_or_too_short_to_be_safe_is_refused_unshown(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = refusal_unshown("FEEDBACK_TOKEN", token, token, monkeypatch)
    assert "FEEDBACK_TOKEN=(value not shown): value error, must be at least 16 characters" in message


def test_every_setting_that_does_not_validate_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_UPLOAD_ROWS", "many")
    monkeypatch.setenv("BACKEND_CORS_ORIGINS", "https://a.example,not a url")
    with pytest.raises(InvalidSettingsError) as refused:
        load_settings(Settings)
    assert "MAX_UPLOAD_ROWS='many'" in str(refused.value)
    assert "BACKEND_CORS_ORIGINS[1]='not a url'" in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresq://ledger:s3cret@db/ledger",
        "mysql://ledger:s3cret@db/ledger",
        "postgresql://ledger:pa@ss:s3cret@db/ledger",  # an @ in the password: SQLAlchemy reads a port of it
        "not a url",
    ],
)
def test_a_ledger_url_that_names_no_database_the_ledger_knows_is_refused_without_its_value(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = refusal_unshown("LEDGER_URL", url, "s3cret", monkeypatch)
    assert "LEDGER_URL=(value not shown): value error, must be off, a postgresql:// (or postgres://) URL" in message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # SQLAlchemy would read "s3cret@db" as the host, which the driver's errors name in the log.
        ("postgresql://ledger:pa@s3cret@db/ledger", "has an @ in its password or user name: write it as %40"),
        # psycopg would refuse it only at the first connection, with a traceback from every worker.
        ("postgresql://ledger:s3cret@db/ledger?foo=bar", "has the option 'foo', which PostgreSQL's connections do not"),
    ],
)
def test_a_ledger_url_that_would_fail_at_its_first_connection_is_refused_without_its_value(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = refusal_unshown("LEDGER_URL", url, "s3cret", monkeypatch)
    assert f"LEDGER_URL=(value not shown): value error, {reason}" in message


def test_a_ledger_url_with_libpq_options_and_an_encoded_at_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    given = "postgresql://ledger:pa%40ss@db/ledger?sslmode=require&connect_timeout=3&application_name=car"
    monkeypatch.setenv("LEDGER_URL", given)
    taken = load_settings(Settings).LEDGER_URL
    assert taken == given


def test_database_url_is_checked_only_when_the_ledger_would_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # DATABASE_URL may be another component's: with LEDGER_URL set, the ledger never reads it.
    monkeypatch.setenv("DATABASE_URL", "mysql://app:s3cret@db/app")
    monkeypatch.setenv("LEDGER_URL", "off")
    assert load_settings(Settings).database_url() is None
    monkeypatch.delenv("LEDGER_URL")
    with pytest.raises(InvalidSettingsError) as refused:
        load_settings(Settings)
    assert "DATABASE_URL=(value not shown)" in str(refused.value)
    assert "the ledger uses DATABASE_URL while LEDGER_URL is unset" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_an_sqlite_uri_filename_makes_no_directory_of_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None, LEDGER_URL="sqlite+pysqlite:///file:ledger.db?uri=true", LEDGER_DATA_DIR="data")
    settings.make_directories()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


def test_a_ledger_directory_that_cannot_be_made_is_one_line_before_the_model_loads(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory", encoding="utf-8")
    # LEDGER_URL empty: unset, the embedded default (the tests' own default is off).
    status, stderr = start(["--port", str(free_port())], {"LEDGER_URL": "", "LEDGER_DATA_DIR": str(blocked / "data")})
    assert status == 1
    assert stderr == f"python -m app: error: cannot make the ledger's directory {blocked / 'data'}: Not a directory\n"


@pytest.mark.parametrize(
    ("name", "given", "read"),
    [
        ("LOG_LEVEL", "debug", "DEBUG"),
        ("LOG_LEVEL", "Warning", "WARNING"),
        ("LEDGER_WHEN_FULL", "REFUSE", "refuse"),
        ("LEDGER_URL", "OFF", "off"),
    ],
)
def test_a_setting_whose_values_are_names_takes_them_in_any_case(
    name: str, given: str, read: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, given)
    assert getattr(load_settings(Settings), name) == read


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("given_as", ["option", "tox -e run's environment"])
def test_a_port_in_use_is_one_line_with_the_way_to_choose_another_before_the_model_loads(
    taken_port: int, given_as: str
) -> None:
    arguments, environment = ["--port", str(taken_port)], {}
    if given_as != "option":
        arguments, environment = [], {"UVICORN_HOST": "127.0.0.1", "UVICORN_PORT": str(taken_port)}
    # -X importtime: every module the process imported, one line each, on stderr.
    status, stderr = start(arguments, environment, python_options=("-X", "importtime"))
    imported = [line for line in stderr.splitlines() if line.startswith("import time:")]
    said = [line for line in stderr.splitlines() if not line.startswith("import time:")]
    assert status == 1
    assert len(said) == 1, said
    assert f"127.0.0.1:{taken_port}" in said[0]
    assert "--port 9000" in said[0]
    assert "tox -e run -- --port 9000" in said[0]
    assert imported, "the importtime lines are the evidence of what loaded"
    assert not [line for line in imported if "car_evaluation_model" in line]


def test_help_lists_uvicorns_options_and_asks_for_no_app() -> None:
    run = run_to_end(["--help"], {})
    assert run.returncode == 0
    usage = run.stdout.splitlines()[0]
    assert usage == "Usage: python -m app [OPTIONS]"
    assert "--workers INTEGER" in run.stdout
    assert "--forwarded-allow-ips" in run.stdout


def test_an_argument_that_is_no_option_is_a_usage_error_before_the_model_loads() -> None:
    status, stderr = start(["app.main:app"], {}, python_options=("-X", "importtime"))
    said = [line for line in stderr.splitlines() if line.strip() and not line.startswith("import time:")]
    assert status == 2
    assert said[-1] == "Error: Got unexpected extra argument (app.main:app)"
    assert not [line for line in stderr.splitlines() if "car_evaluation_model" in line]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_two_workers_stopped_cleanly_leave_no_temporary_directory(tmp_path: Path, stop: signal.Signals) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    port = free_port()
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    environment = {"TMPDIR": str(temporary), "WEB_CONCURRENCY": "", "PROMETHEUS_MULTIPROC_DIR": ""}
    with running_process(
        command,
        log_path=tmp_path / "server.log",
        ready_url=f"http://127.0.0.1:{port}/api/v1/health",
        env=environment,
        cwd=REPO_ROOT,
        ready_timeout=READY_TIMEOUT_S,
    ) as process:
        assert [path.name.startswith("car-evaluation-metrics-") for path in temporary.iterdir()] == [True]
        process.send_signal(stop)
        status = process.wait(timeout=RUN_TIMEOUT_S)
    logs = (tmp_path / "server.log").read_text()
    assert status == 0, logs
    assert list(temporary.iterdir()) == []
    assert "Traceback" not in logs
