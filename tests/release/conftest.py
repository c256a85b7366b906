"""A private index (pypiserver, password on every action) holding the genuine model package, per test module."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from release.build import build_distributions
from release.environment import isolated_pip_env
from release.index import Index, package_index
from release.publish import upload

USER = "release-bot"


@pytest.fixture(scope="module")
def password() -> str:
    return secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("release")


@pytest.fixture(scope="module")
def genuine(workdir: Path) -> tuple[Path, Path]:
    return build_distributions(workdir / "dist")


def twine_env(index: Index, user: str | None, password: str | None) -> dict[str, str]:
    credentials = {"TWINE_USERNAME": user or "", "TWINE_PASSWORD": password or ""}
    return isolated_pip_env(TWINE_REPOSITORY_URL=index.url, **credentials)


@pytest.fixture(scope="module")
def private_index(workdir: Path, genuine: tuple[Path, Path], password: str) -> Iterator[Index]:
    with package_index(workdir / "private", credentials=(USER, password), log_path=workdir / "private.log") as index:
        published = upload(list(genuine), env=twine_env(index, USER, password))
        assert published.returncode == 0, published.stdout + published.stderr
        assert password not in published.stdout + published.stderr
        yield index
