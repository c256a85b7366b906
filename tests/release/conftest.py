"""A private index (pypiserver, password on every action) holding the genuine model package, per test module.

It is filled as docs/releasing.md says a team fills its own: ``python -m release.seed`` (``tox -e
seed``) with the index's upload URL and credentials in TWINE_*.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import REPO_ROOT
from release.environment import isolated_pip_env
from release.index import Index, package_index

USER = "release-bot"
SEED_TIMEOUT_S = 900  # two reproducible builds at most, each in a fresh build environment


@pytest.fixture(scope="module")
def password() -> str:
    return secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("release")


def twine_env(index: Index, user: str | None, password: str | None) -> dict[str, str]:
    credentials = {"TWINE_USERNAME": user or "", "TWINE_PASSWORD": password or ""}
    return isolated_pip_env(TWINE_REPOSITORY_URL=index.url, **credentials)


def seed(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The documented command: ``python -m release.seed`` (``tox -e seed``)."""
    return subprocess.run(
        [sys.executable, "-m", "release.seed", *arguments],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=SEED_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def private_index(workdir: Path, password: str) -> Iterator[Index]:
    with package_index(workdir / "private", credentials=(USER, password), log_path=workdir / "private.log") as index:
        seeded = seed(env=twine_env(index, USER, password))
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        assert password not in seeded.stdout + seeded.stderr
        yield index


@pytest.fixture(scope="module")
def genuine(private_index: Index) -> Path:
    """The pinned wheel, as the private index holds it."""
    [wheel] = private_index.packages.glob("car_evaluation_model-*.whl")
    return wheel
