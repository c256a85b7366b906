"""A team with only this repository: its own index filled with the pinned model, and a diff that says what it needs.

``tox -e index -- --fill`` serves a private index holding the wheel requirements.txt pins, built
here, which pip installs by that very hash; ``tox -e diff`` with no index holding the pinned
version says what to set or pass instead of pip's error. (``tox -e seed``, the upload to a
team's own index, fills the release tests' index: tests/release/conftest.py.)
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from car_evaluation_model.processing.data_manager import file_sha256
from devtools import REPO_ROOT
from devtools.processes import free_port, running_process
from release.environment import isolated_pip_env
from release.index import Index, package_index
from release.seed import pinned
from release.sides import split_requirements
from tests.release.conftest import SEED_TIMEOUT_S, USER

pytestmark = pytest.mark.e2e

DIFF_TIMEOUT_S = 300


def test_the_filled_index_serves_the_pinned_wheel_by_its_hash(tmp_path: Path) -> None:
    password = secrets.token_urlsafe(12)
    port = free_port()
    command = [sys.executable, "-m", "release.index", "--fill", "--packages", str(tmp_path / "packages")]
    with running_process(
        [*command, "--port", str(port)],
        log_path=tmp_path / "index.log",
        ready_url=f"http://127.0.0.1:{port}/health",
        any_status=True,
        env=isolated_pip_env(CAR_EVALUATION_INDEX_USER=USER, CAR_EVALUATION_INDEX_PASSWORD=password),
        cwd=REPO_ROOT,
        ready_timeout=SEED_TIMEOUT_S,
    ):
        index = Index(url=f"http://127.0.0.1:{port}/", packages=tmp_path / "packages")
        entry = tmp_path / "pinned.txt"
        entry.write_text(split_requirements(REPO_ROOT / "requirements.txt")[1])
        download = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp_path / "got"), "-r", str(entry)],
            env=isolated_pip_env(PIP_INDEX_URL=index.simple_url_with(USER, password)),
            capture_output=True,
            text=True,
            timeout=DIFF_TIMEOUT_S,
            check=False,
        )
    assert download.returncode == 0, download.stdout + download.stderr
    [wheel] = (tmp_path / "got").glob("*.whl")
    assert file_sha256(wheel) == pinned().sha256
    assert password not in (tmp_path / "index.log").read_text()


def test_a_diff_without_the_pinned_model_on_any_index_says_what_to_set_or_pass(tmp_path: Path) -> None:
    # An index that answers but holds nothing: what pip meets where the private index is not set.
    with package_index(tmp_path / "empty", credentials=None, log_path=tmp_path / "empty.log") as empty:
        result = subprocess.run(
            [sys.executable, "-m", "release.diff", "--out", str(tmp_path / "reports"), "--cache", str(tmp_path)],
            env=isolated_pip_env(PIP_INDEX_URL=empty.simple_url),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=DIFF_TIMEOUT_S,
            check=False,
        )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"cannot compare: the pinned car-evaluation-model=={pinned().version} is on no index")
    for hint in ("set PIP_EXTRA_INDEX_URL", "tox -e index -- --fill", "tox -e seed", "--baseline"):
        assert hint in line
    assert not (tmp_path / "reports").exists()
