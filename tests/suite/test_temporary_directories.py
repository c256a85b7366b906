"""The suite leaves no temporary directories behind: pytest's settings in tox.ini, checked on a run of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devtools import REPO_ROOT

RUN_TIMEOUT_S = 120
TESTS = """\
def test_passes(tmp_path):
    (tmp_path / "left-behind").write_text("x")


def test_fails(tmp_path):
    (tmp_path / "kept-to-look-at").write_text("x")
    assert False
"""


def test_a_passed_tests_directory_is_removed_and_a_failed_ones_kept(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(TESTS)
    base = tmp_path / "base"
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-c", str(REPO_ROOT / "tox.ini"), "--rootdir", str(tmp_path),
            "-p", "no:cacheprovider", f"--basetemp={base}", str(tmp_path / "test_example.py"),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert sorted(path.name for path in base.rglob("*") if path.is_file()) == ["kept-to-look-at"]
