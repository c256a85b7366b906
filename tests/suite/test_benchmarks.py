"""The benchmarks run in their own tox environment (``tox -e bench``), which has no pytest."""

from __future__ import annotations

import subprocess
import sys

from devtools import REPO_ROOT

BENCHMARKS = sorted(f"bench.{path.stem}" for path in (REPO_ROOT / "bench").glob("*.py") if path.stem != "__init__")
# ``import pytest`` raises ImportError once sys.modules maps it to None.
IMPORT_WITHOUT_PYTEST = """\
import importlib, sys
sys.modules["pytest"] = None
for name in sys.argv[1:]:
    importlib.import_module(name)
"""


def test_every_benchmark_imports_without_pytest() -> None:
    assert "bench.run" in BENCHMARKS
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_WITHOUT_PYTEST, *BENCHMARKS],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
