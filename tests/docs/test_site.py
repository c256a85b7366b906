"""The documentation site builds with ``--strict``: no broken link, anchor, include or page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import REPO_ROOT
from devtools.mkdocs_hooks import settings_table_problems, shown_default


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO_ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's advertisement for its successor
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "site" / "configuration" / "index.html").is_file()


CONFIGURATION = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def test_the_configuration_page_documents_every_setting_with_its_default() -> None:
    assert settings_table_problems(CONFIGURATION) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            ("| `GC_TUNING` | `true` |", "| `GC_TUNING` | `false` |"),
            ["GC_TUNING: the page says `false`, the default is `true`"],
        ),
        (
            ("| `OTEL_ENABLED` |", "| `OTEL_ON` |"),
            ["OTEL_ON is not a setting of app.config.Settings", "OTEL_ENABLED is not documented"],
        ),
    ],
    ids=["wrong default", "renamed"],
)
def test_a_page_that_drifts_from_the_settings_is_refused(change: tuple[str, str], problem: list[str]) -> None:
    drifted = CONFIGURATION.replace(*change)
    assert drifted != CONFIGURATION
    assert settings_table_problems(drifted) == problem


def test_defaults_are_shown_as_they_are_set_in_the_environment() -> None:
    defaults: tuple[object, ...] = (True, 10.0, 2.5, 10_000, [], "INFO")
    assert [shown_default(value) for value in defaults] == [
        "`true`",
        "`10`",
        "`2.5`",
        "`10000`",
        "none",
        "`INFO`",
    ]
