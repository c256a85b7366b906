"""External programs the tests need (promtool, prometheus...): found, or the test is skipped or failed."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def require_program(name: str, debian_package: str) -> str:
    """The path of ``name``. Missing, it skips the test with the install command, or fails it in CI.

    In CI (``CI`` set) a missing program is an error, so such tests cannot silently stop running.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    unavailable(f"{name} not found: install it with `apt-get install -y {debian_package}`")


def unavailable(message: str) -> NoReturn:
    """Skip the test for a missing prerequisite, saying why; in CI, fail it instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (it must be there in CI)")
    pytest.skip(message)
