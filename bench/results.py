"""The committed results file of a benchmark: its tables with where, when and how they were measured.

Each benchmark writes ``bench/results/<name>.md`` through ``write``; the documentation
includes these files as they are (``--8<--`` in docs/), so every figure it shows has one
source, and the date, command and machine that produced it. A trial run (``bench.run --quick``)
writes to ``bench/results/quick/`` instead (not committed), so it never replaces the
committed results.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from devtools import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "bench" / "results"
QUICK_RESULTS_DIR = RESULTS_DIR / "quick"  # in .gitignore; the documentation includes nothing from it


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (``platform.processor()`` is often empty)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def provenance(module: str, arguments: list[str]) -> str:
    command = shlex.join(["python", "-m", module, *arguments])
    return (
        f"*Measured {datetime.now(UTC):%Y-%m-%d} with `{command}` on {cpu_model()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.*"
    )


def write(
    name: str, module: str, tables: str, arguments: list[str] | None = None, *, directory: Path = RESULTS_DIR
) -> Path:
    """Write ``tables`` (Markdown) to ``<directory>/<name>.md`` under a line saying how they were made.

    ``module`` is the benchmark's module (``bench.run``); ``arguments`` its command-line
    arguments, by default this process's; ``directory`` the committed ``bench/results/`` unless
    the run is a trial (``QUICK_RESULTS_DIR``).
    """
    arguments = sys.argv[1:] if arguments is None else arguments
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.md"
    header = f"<!-- Written by {module}: run it again to update this file; do not edit it by hand. -->"
    path.write_text(f"{header}\n{provenance(module, arguments)}\n\n{tables.strip()}\n", encoding="utf-8")
    return path
