"""End to end: publish to a private index, deploy from it, and refuse an impostor.

1. A private pypiserver (auth on every action) gets the model package from release.publish.
2. A second local index plays "the public index": the real dependencies of the service plus
   two impostor car-evaluation-model packages, one with a higher version, one with the same.
3. A fresh venv installs requirements.txt the documented way (PIP_EXTRA_INDEX_URL = private
   index with credentials), then the Procfile's command serves predictions from it.

Needs the package registry (PyPI) once, to fetch the public dependencies.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from car_evaluation_model import __version__ as model_version
from car_evaluation_model.processing.data_manager import file_sha256
from devtools import REPO_ROOT
from devtools.procfile import web_command
from devtools.service import running_server
from release.build import MODEL_PACKAGE, build_distributions
from release.environment import isolated_pip_env
from release.index import Index, package_index
from release.publish import upload
from tests.conftest import API, ARTICLE_ROW
from tests.release.conftest import USER, twine_env

pytestmark = pytest.mark.e2e

REQUIREMENTS = REPO_ROOT / "requirements.txt"
GENUINE_CARD = next((MODEL_PACKAGE / "car_evaluation_model" / "trained_models").glob("*.json"))


def impostor_wheel(out_dir: Path, version: str) -> Path:
    """A package that claims to be car-evaluation-model and only says who it is."""
    source = out_dir / f"impostor-{version}"
    (source / "car_evaluation_model").mkdir(parents=True)
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools==84.2.1"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "car-evaluation-model"\nversion = "{version}"\n'
    )
    (source / "car_evaluation_model" / "__init__.py").write_text(f'IMPOSTOR = True\n__version__ = "{version}"\n')
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out_dir), str(source)],
        check=True,
        env=isolated_pip_env(),
        capture_output=True,
    )
    return next(out_dir.glob(f"car_evaluation_model-{version}-*.whl"))


def public_requirements(text: str) -> str:
    """requirements.txt without the model package: what the public index must serve."""
    return re.sub(r"^car-evaluation-model\b.*?\n(?=\S)", "", text, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def public_index(workdir: Path) -> Iterator[Index]:
    packages = workdir / "public"
    packages.mkdir()
    requirements = workdir / "public-requirements.txt"
    requirements.write_text(public_requirements(REQUIREMENTS.read_text()))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "-r",
            str(requirements),
            "-d",
            str(packages),
        ],
        check=True,
        env=isolated_pip_env(),
    )
    impostor_wheel(packages, "99.0.0")
    impostor_wheel(packages, model_version)  # same version as the genuine one, other content
    with package_index(packages, credentials=None, log_path=workdir / "public.log") as index:
        yield index


def fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(path)
    return path / "bin" / "python"


def installed_model(python: Path) -> dict[str, Any]:
    probe = (
        "import hashlib, importlib.metadata as md, json, pathlib, car_evaluation_model as m;"
        "cards = sorted(pathlib.Path(m.__file__).parent.glob('trained_models/*.json'));"
        "print(json.dumps({'version': md.version('car-evaluation-model'),"
        " 'impostor': getattr(m, 'IMPOSTOR', False),"
        " 'card_sha256': hashlib.sha256(cards[0].read_bytes()).hexdigest() if cards else None}))"
    )
    result = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True)
    installed: dict[str, Any] = json.loads(result.stdout)
    return installed


def assert_genuine(installed: dict[str, Any]) -> None:
    assert not installed["impostor"], f"an impostor was installed: {installed}"
    assert installed["card_sha256"] == file_sha256(GENUINE_CARD), f"not the genuine model: {installed}"


def test_the_pinned_hash_is_the_wheel_that_is_built(workdir: Path) -> None:
    wheel, _ = build_distributions(workdir / "built-here")
    pinned = re.search(
        r"^car-evaluation-model==\S+ \\\n\s+--hash=sha256:(\w+)\n(?!\s+--hash)", REQUIREMENTS.read_text(), re.M
    )
    assert pinned, "requirements.txt must pin exactly one hash for car-evaluation-model"
    assert pinned.group(1) == file_sha256(wheel), (
        "model-package/ changed since requirements.txt was locked: bump its VERSION, publish, then `tox -e lock`"
    )


@pytest.mark.parametrize("credentials", [(None, None), (USER, "wrong-password"), ("someone", "else")])
def test_uploads_without_the_password_are_refused(
    private_index: Index, workdir: Path, credentials: tuple[str | None, str | None]
) -> None:
    out = workdir / f"refused-{secrets.token_hex(4)}"
    out.mkdir()
    impostor = impostor_wheel(out, "98.0.0")
    refused = upload([impostor], env=twine_env(private_index, *credentials))
    assert refused.returncode != 0
    assert re.search(r"\b(401|403)\b", refused.stdout + refused.stderr)
    assert not list(private_index.packages.glob("*98.0.0*"))


def test_reading_the_private_index_needs_the_password(private_index: Index, password: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{private_index.simple_url}car-evaluation-model/", timeout=5)
    assert refused.value.code == 401


def test_deploy_installs_the_genuine_package_and_serves_it(
    private_index: Index, public_index: Index, password: str, workdir: Path
) -> None:
    python = fresh_venv(workdir / "deploy-venv")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-cache-dir", "-r", str(REQUIREMENTS)],
        env=isolated_pip_env(
            PIP_INDEX_URL=public_index.simple_url,
            PIP_EXTRA_INDEX_URL=private_index.simple_url_with(USER, password),
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    assert password not in install.stdout + install.stderr
    assert_genuine(installed_model(python))

    command = web_command()
    assert "--host 127.0.0.1" in command
    with running_server(workdir / "deployed.log", command=["sh", "-c", f"exec {python.parent}/{command}"]) as server:
        health = json.load(urllib.request.urlopen(f"{server.base_url}{API}/health", timeout=5))
        request = urllib.request.Request(
            f"{server.base_url}{API}/predict",
            data=json.dumps({"inputs": [ARTICLE_ROW]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        prediction = json.load(urllib.request.urlopen(request, timeout=5))
    assert health["model_version"] == model_version
    assert prediction["predictions"] == ["vgood"]
    assert password not in server.logs()


def test_the_unsafe_extra_index_url_install_is_hijacked(
    private_index: Index, public_index: Index, password: str, workdir: Path
) -> None:
    """The design's original path, checked the same way: the check catches the impostor."""
    python = fresh_venv(workdir / "unsafe-venv")
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--no-deps",
            f"car-evaluation-model>={model_version}",
            "--index-url",
            public_index.simple_url,
            "--extra-index-url",
            private_index.simple_url_with(USER, password),
        ],
        env=isolated_pip_env(),
        capture_output=True,
        check=True,
    )
    installed = installed_model(python)
    assert installed["version"] == "99.0.0"
    with pytest.raises(AssertionError, match="impostor"):
        assert_genuine(installed)
