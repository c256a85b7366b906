"""Start the service: uvicorn with the service's protocol, limits and shutdown bound.

    python -m app [uvicorn options]     e.g. --port 9000, --workers 2, --reload

The Procfile and ``tox -e run`` start the service this way; any uvicorn option given here
overrides the defaults below. ``--workers`` defaults to ``$WEB_CONCURRENCY`` (uvicorn's own
default), as Heroku sets it. Stopping with Ctrl+C exits 0: stopping a server is not a failure.

The settings are read from the environment once, here, as the app (``app.main``) reads them:
the shutdown bound goes to uvicorn; every log line, uvicorn's supervisor's included, takes
the service's format (``--log-config`` hands uvicorn's loggers to ``app.log``), so that
``LOG_JSON=true`` makes every line JSON.

With several workers, they share their metrics through files in ``PROMETHEUS_MULTIPROC_DIR``
(app/metrics.py): it is created here, or emptied if it was given, before any worker starts,
so that every scrape counts exactly this run's requests. One worker keeps its metrics in
memory, which costs less per request and adds the process's own metrics.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click
import uvicorn.main

from app.config import Settings
from app.log import setup_logging
from app.metrics.files import MULTIPROCESS_DIR_VARIABLE, multiprocess_dir

UVICORN_LOGGING = Path(__file__).with_name("uvicorn_logging.json")


def default_arguments(settings: Settings) -> list[str]:
    return [
        "app.main:app",
        "--http",
        "app.server_protocol:GuardedHttpToolsProtocol",
        "--timeout-graceful-shutdown",
        str(settings.GRACEFUL_SHUTDOWN_SECONDS),
        "--log-config",
        str(UVICORN_LOGGING),
        "--no-access-log",  # the app writes its own (app/access_log.py)
    ]


def prepare_metrics_directory() -> Path:
    """An empty directory for the workers' metric files, named in the environment they inherit."""
    given = multiprocess_dir()
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="car-evaluation-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_DIR_VARIABLE] = str(directory)
    return directory


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
    settings = Settings()
    setup_logging(settings)
    arguments = [*default_arguments(settings), *(sys.argv[1:] if argv is None else argv)]
    if worker_count(arguments) > 1 or multiprocess_dir() is not None:
        prepare_metrics_directory()
    try:
        uvicorn.main.main(args=arguments, prog_name="python -m app", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    return 0
