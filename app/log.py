"""Route every log record (standard library, uvicorn, FastAPI) through loguru, once."""

from __future__ import annotations

import inspect
import logging
import sys
from typing import TYPE_CHECKING

from loguru import logger

from app.config import Settings
from app.request_state import current_request_id

if TYPE_CHECKING:
    from loguru import Record

# The layout of every text line, in loguru's field names; the access log fills it in too.
TEXT_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {extra[request_id]} | {name} - {message}"


class InterceptHandler(logging.Handler):
    """Hand standard-library records to loguru (the recipe from loguru's documentation)."""

    def emit(self, record: logging.LogRecord) -> None:
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def _with_request_id(record: Record) -> None:
    """Every line says which request it was written for ("-" outside one), unless it names one itself.

    Read from a context variable when a line is written, which costs a request nothing when
    it logs nothing (``logger.contextualize`` costs every request).
    """
    record["extra"].setdefault("request_id", current_request_id.get())


def setup_logging(settings: Settings) -> None:
    """Configure loguru as the only sink; safe to call more than once."""
    # diagnose=False: tracebacks never print local variable values (inputs, secrets).
    logger.configure(
        handlers=[
            {
                "sink": sys.stderr,
                "level": settings.LOG_LEVEL,
                "format": TEXT_FORMAT,
                "serialize": settings.LOG_JSON,
                "backtrace": False,
                "diagnose": False,
                "colorize": False,
            }
        ],
        patcher=_with_request_id,
    )
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name in ("uvicorn", "uvicorn.error", "fastapi"):
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True
    # alembic names each of its plugins at INFO as every worker migrates the ledger at start.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # The request middleware writes one access line per request, with the request id;
    # uvicorn's own access line would be a duplicate without it.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.disabled = True
