"""Log set-up: tracebacks without local values, standard-library records through loguru once."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from loguru import logger

from app.config import Settings
from app.log import setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    setup_logging(Settings())


def fail_with_a_secret() -> None:
    api_token = "hunter2-do-not-log"  # the value that must not appear
    if api_token.startswith("hunter"):
        raise ValueError(api_token.count("-"))


def test_tracebacks_show_no_local_values(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(Settings(LOG_LEVEL="INFO"))
    try:
        fail_with_a_secret()
    except ValueError:
        logger.exception("prediction failed")
    err = capsys.readouterr().err
    assert "prediction failed" in err
    assert "ValueError: 3" in err
    # With diagnose on, loguru would print the value of api_token under the raising line.
    assert "'hunter2-do-not-log'" not in err


def test_standard_library_records_are_written_once(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(Settings(LOG_LEVEL="INFO"))
    logging.getLogger("uvicorn.error").info("started once")
    logging.getLogger("some.library").warning("warned once")
    logging.getLogger("uvicorn.access").info("an access line uvicorn would write")
    err = capsys.readouterr().err
    assert err.count("started once") == 1
    assert err.count("warned once") == 1
    assert "an access line uvicorn would write" not in err


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(Settings(LOG_JSON=True))
    logger.bind(rows=3).info("hello")
    [line] = [line for line in capsys.readouterr().err.splitlines() if '"hello"' in line]
    assert line.startswith("{")
    assert '"rows": 3' in line
