"""Start the service: uvicorn with the service's protocol, limits and shutdown bound.

    python -m app [uvicorn options]     e.g. --port 9000, --workers 2, --reload

The Procfile and ``tox -e run`` start the service this way; any uvicorn option given here
overrides the defaults below. ``--workers`` defaults to ``$WEB_CONCURRENCY`` (uvicorn's own
default), as Heroku sets it. Stopping with Ctrl+C exits 0: stopping a server is not a failure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import uvicorn.main

from app.config import settings


def default_arguments() -> list[str]:
    return [
        "app.main:app",
        "--http",
        "app.server_protocol:GuardedHttpToolsProtocol",
        "--timeout-graceful-shutdown",
        str(settings.GRACEFUL_SHUTDOWN_SECONDS),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = [*default_arguments(), *(sys.argv[1:] if argv is None else argv)]
    try:
        uvicorn.main.main(args=arguments, prog_name="python -m app", standalone_mode=False)
    except KeyboardInterrupt:
        # uvicorn re-raises the SIGINT it shut down on, once it has shut down cleanly.
        return 0
    except click.ClickException as error:
        error.show()
        return error.exit_code
    return 0
