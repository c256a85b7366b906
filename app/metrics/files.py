"""Where the workers keep their metric files: light on purpose, as the start command imports it."""

from __future__ import annotations

import os

# prometheus-client reads its multiprocess directory from this variable.
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None
