"""Start the service: uvicorn with the service's protocol, limits and shutdown bound.

    python -m app [uvicorn options]     e.g. --port 9000, --workers 2, --reload

The Procfile and ``tox -e run`` start the service this way; any uvicorn option given here
overrides the defaults below. ``--workers`` defaults to ``$WEB_CONCURRENCY`` (uvicorn's own
default), as Heroku sets it. Stopping with Ctrl+C exits 0: stopping a server is not a failure.

The settings are read from the environment once, here, as the app (``app.main``) reads them:
the shutdown bound goes to uvicorn; every log line, uvicorn's supervisor's included, takes
the service's format (``--log-config`` hands uvicorn's loggers to ``app.log``), so that
``LOG_JSON=true`` makes every line JSON.

A mistake is one line and a non-zero exit, before anything is loaded: a setting that does not
validate (exit status 2, ``app.config.InvalidSettingsError``) and an address already in use
(exit status 1, with the option that chooses another port).

With several workers, they share their metrics through files in ``PROMETHEUS_MULTIPROC_DIR``
(app/metrics.py): it is created here, or emptied if it was given, before any worker starts,
so that every scrape counts exactly this run's requests; a directory made here is removed when
the service stops. One worker keeps its metrics in memory, which costs less per request and
adds the process's own metrics.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

import click
from uvicorn.main import main as uvicorn_main

from app.config import InvalidSettingsError, Settings, load_settings
from app.ledger.settings import LedgerDirectoryError
from app.log import setup_logging
from app.metrics.files import MULTIPROCESS_DIR_VARIABLE, multiprocess_dir

UVICORN_LOGGING = Path(__file__).with_name("uvicorn_logging.json")
PROG = "python -m app"
APP = "app.main:app"
USAGE_ERROR = 2  # a wrong command line or setting, as click and argparse exit
STARTUP_FAILURE = 1  # the service could not start: its address is taken, or a ledger directory cannot be made


def service_command() -> click.Command:
    """uvicorn's command with the app given: every option of uvicorn's, and no ``APP`` argument to ask for."""
    assert uvicorn_main.callback is not None  # a click command made from a function
    return click.Command(
        PROG,
        context_settings=uvicorn_main.context_settings,  # UVICORN_* variables for its options
        params=[param for param in uvicorn_main.params if param.name != "app"],
        callback=partial(uvicorn_main.callback, app=APP),
        help=f"Run the car-evaluation service ({APP}) with uvicorn. Every uvicorn option applies.",
    )


def default_arguments(settings: Settings) -> list[str]:
    return [
        "--http",
        "app.server_protocol:GuardedHttpToolsProtocol",
        "--timeout-graceful-shutdown",
        str(settings.GRACEFUL_SHUTDOWN_SECONDS),
        "--log-config",
        str(UVICORN_LOGGING),
        "--no-access-log",  # the app writes its own (app/access_log.py)
    ]


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """An empty directory for the workers' metric files, named in the environment they inherit.

    One given in ``PROMETHEUS_MULTIPROC_DIR`` is emptied and kept; one made here is removed after.
    """
    given = multiprocess_dir()
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="car-evaluation-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_DIR_VARIABLE] = str(directory)
    try:
        yield directory
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


def address_in_use(command: click.Command, arguments: Sequence[str]) -> str | None:
    """Why uvicorn could not bind the address the arguments give, or None when it can.

    Read with ``command``'s options, uvicorn's own (``UVICORN_HOST``, ``UVICORN_PORT`` included) and bound as
    uvicorn binds (``SO_REUSEADDR``), then let go: an address taken is found before the app
    and its model load. A Unix socket or an inherited descriptor is left to uvicorn.
    """
    if {"--help", "--version"} & set(arguments):
        return None
    context = command.make_context(PROG, list(arguments), resilient_parsing=True)
    host, port = context.params.get("host"), context.params.get("port")
    if context.params.get("uds") or context.params.get("fd") is not None or host is None or port is None:
        return None
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None


def worker_count(arguments: Sequence[str]) -> int:
    """The number of workers uvicorn will start: the last ``--workers``, else ``$WEB_CONCURRENCY``, else 1."""
    count = os.environ.get("WEB_CONCURRENCY") or "1"
    for position, argument in enumerate(arguments):
        if argument == "--workers" and position + 1 < len(arguments):
            count = arguments[position + 1]
        elif argument.startswith("--workers="):
            count = argument.removeprefix("--workers=")
    return int(count) if count.isdecimal() else 1


def main(argv: Sequence[str] | None = None) -> int:
    # uvicorn handles SIGINT while it serves. Outside that, ignored: the one it raises again once
    # it has stopped cleanly, and a second Ctrl+C arriving as the process ends (tox forwards the
    # terminal's), would otherwise end it with a traceback and exit status 130.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        settings = load_settings(Settings)
    except InvalidSettingsError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    try:  # here, where a failure is one line, not in each worker's start
        settings.make_directories()
    except LedgerDirectoryError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return STARTUP_FAILURE
    arguments = [*default_arguments(settings), *(sys.argv[1:] if argv is None else argv)]
    command = service_command()
    if (problem := address_in_use(command, arguments)) is not None:
        print(
            f"{PROG}: error: {problem}; choose another port: {PROG} --port 9000 (tox -e run -- --port 9000)",
            file=sys.stderr,
        )
        return STARTUP_FAILURE
    setup_logging(settings)
    with ExitStack() as stack:
        if worker_count(arguments) > 1 or multiprocess_dir() is not None:
            stack.enter_context(metrics_directory())
        try:
            command.main(args=arguments, prog_name=PROG, standalone_mode=False)
        except click.ClickException as error:
            error.show()
            return error.exit_code
    return 0
