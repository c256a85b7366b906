"""The documentation site builds with ``--strict``: no broken link, anchor, include or page."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import REPO_ROOT
from devtools.mkdocs_hooks import settings_table_problems, shown_default


def tox_docs_command() -> tuple[list[str], dict[str, str]]:
    """``tox -e docs``'s command, with its default arguments, and its ``set_env``, read from tox.ini."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO_ROOT / "tox.ini", encoding="utf-8")
    docs = tox["testenv:docs"]
    [command] = docs["commands"].strip().splitlines()
    argv = shlex.split(re.sub(r"\{posargs:([^}]*)\}", r"\1", command))
    settings = (line.partition("=") for line in docs["set_env"].strip().splitlines())
    return argv, {name.strip(): value.strip() for name, _, value in settings}


def test_the_site_builds_strictly_with_the_command_of_tox_e_docs(tmp_path: Path) -> None:
    argv, environment = tox_docs_command()
    assert argv[:3] == ["python", "-m", "mkdocs"], argv  # run as a module: the build hook imports app
    build = subprocess.run(
        [sys.executable, *argv[1:], "--site-dir", str(tmp_path / "site")],
        cwd=REPO_ROOT,
        env={**os.environ, **environment},
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
