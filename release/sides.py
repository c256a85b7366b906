"""Install one side of a model diff in an environment of its own and ask it for its answers.

Two versions of one package cannot be imported by one process, so each side runs
``release/probe.py`` in a process of its own, on the deploy's libraries:

- the libraries are a virtual environment holding requirements.txt without the model package,
  installed as the deploy installs it (``pip install -r``, every file hash-checked). It is kept
  in a cache named after those lines and the Python version: the same hashes install the same files.
- each side's model package is installed with ``--no-deps --target`` into a folder of its own,
  first on that process's path. The default baseline, ``pinned``, is requirements.txt's own
  line for it, hash and all, from the indexes the environment names (``PIP_INDEX_URL``,
  ``PIP_EXTRA_INDEX_URL``: the private index with its credentials, as the deploy is configured);
  any other spec is a wheel, a package directory or a version on those indexes. A model that
  needs other libraries than requirements.txt pins is refused (lock them first). The pinned
  model and a directory's build are kept in the cache too, by the hash of what they install.

The machine's own pip configuration (config files, PIP_FIND_LINKS) is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devtools import REPO_ROOT
from release.environment import isolated_pip_env

PINNED = "pinned"
DISTRIBUTION = "car-evaluation-model"
REQUIREMENTS = REPO_ROOT / "requirements.txt"
PROBE = Path(__file__).with_name("probe.py")
DEFAULT_CACHE = Path.home() / ".cache" / "car-evaluation" / "release-environments"
# A deploy's install pulls about 60 packages; pip's own timeouts bound each download.
INSTALL_TIMEOUT_S = 900
PROBE_TIMEOUT_S = 300
# In a package directory, not part of the model: approvals, and what builds leave behind.
SKIPPED_IN_DIRECTORIES = ("approvals", "build", "dist")


class SideError(RuntimeError):
    """A side could not be installed or asked: the diff cannot be made."""


@dataclass(frozen=True)
class Side:
    """Where one side's answers come from: the libraries' Python and the folder holding its model."""

    spec: str
    python: Path
    model_dir: Path


def deploy_pip_env() -> dict[str, str]:
    """pip as the deploy runs it: only the indexes named in PIP_INDEX_URL / PIP_EXTRA_INDEX_URL."""
    named = {key: os.environ[key] for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL") if os.environ.get(key)}
    return isolated_pip_env(**named)


def run_bounded(command: list[str], *, env: dict[str, str], timeout: int, what: str, cwd: Path | None = None) -> str:
    """Run ``command`` to its end within ``timeout`` seconds; its output, or SideError saying ``what`` failed."""
    try:
        result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as expired:
        raise SideError(f"{what} took over {timeout} s") from expired
    if result.returncode:
        # pip's output can hold the index URL: hide any password in it.
        raise SideError(f"{what} failed:\n{redacted(result.stdout[-2000:] + result.stderr[-3000:])}")
    return result.stdout


def run_pip(python: Path, *args: str) -> None:
    run_bounded(
        [str(python), "-m", "pip", *args], env=deploy_pip_env(), timeout=INSTALL_TIMEOUT_S, what=f"pip {' '.join(args)}"
    )


def redacted(text: str) -> str:
    return re.sub(r"(https?://[^:/@\s]+):[^@\s]+@", r"\1:****@", text)


def split_requirements(requirements: Path) -> tuple[str, str]:
    """(requirements.txt without the model package, the model package's own entry with its hashes)."""
    text = requirements.read_text(encoding="utf-8")
    entry = re.search(rf"^{DISTRIBUTION}==.*?\n(?=\S|\Z)", text, re.MULTILINE | re.DOTALL)
    if not entry:
        raise SideError(f"{requirements} pins no {DISTRIBUTION}")
    return text[: entry.start()] + text[entry.end() :], entry.group(0)


def libraries_environment(cache: Path, requirements: Path = REQUIREMENTS) -> Path:
    """The Python of a venv holding requirements.txt's libraries as the deploy installs them (made once per lock)."""
    libraries, _ = split_requirements(requirements)
    key = hashlib.sha256(libraries.encode() + sys.version.encode()).hexdigest()[:16]
    home = cache / f"libraries-{key}"
    python = home / "bin" / "python"
    done = home / ".installed"
    if done.is_file():
        return python
    shutil.rmtree(home, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(home)
    (home / "requirements.txt").write_text(libraries, encoding="utf-8")
    run_pip(python, "install", "--quiet", "-r", str(home / "requirements.txt"))
    done.touch()
    return python


def install_side(spec: str, work: Path, cache: Path, requirements: Path = REQUIREMENTS) -> Side:
    """``pinned``, a wheel file, a package directory or a version of the model package on the index."""
    target = work / f"side-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    path = Path(spec)
    if spec == PINNED:
        entry = split_requirements(requirements)[1]
        # Hash-checked, so the same entry always installs the same files: installed once, in the cache.
        target = cache / f"pinned-{hashlib.sha256(entry.encode()).hexdigest()[:16]}"
        if (target / ".installed").is_file():
            return Side(spec, libraries_environment(cache, requirements), target)
        # Fetched first, so that an index without it is said before the libraries are installed.
        source = [str(fetch_pinned(entry, work))]
    elif path.suffix == ".whl" or path.is_dir():
        if not path.exists():
            raise SideError(f"{spec}: no such file or directory")
        source = [str(path.resolve())]
    elif re.fullmatch(r"=?=?\d[\w.+!-]*", spec):
        source = [f"{DISTRIBUTION}=={spec.lstrip('=')}"]
    else:
        raise SideError(f"{spec!r} is neither {PINNED!r}, a wheel, a package directory nor a version")
    if path.is_dir():
        # A directory is built into a wheel first (seconds); the same files build the same wheel.
        target = cache / f"directory-{directory_digest(path)}"
    python = libraries_environment(cache, requirements)
    if target.parent == cache and (target / ".installed").is_file():
        return Side(spec, python, target)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    run_pip(python, "install", "--quiet", "--no-deps", "--no-compile", "--target", str(target), *source)
    (target / ".installed").touch()
    return Side(spec, python, target)


def fetch_pinned(entry: str, work: Path) -> Path:
    """requirements.txt's wheel of the model package, downloaded by its hash from the indexes the environment names."""
    pinned = work / "pinned.requirements.txt"
    pinned.write_text(entry, encoding="utf-8")
    download = work / "pinned-wheel"
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    try:
        # With its hash: pip takes that very wheel or nothing.
        run_bounded(
            [*command, "--dest", str(download), "-r", str(pinned)],
            env=deploy_pip_env(),
            timeout=INSTALL_TIMEOUT_S,
            what="downloading the pinned model package",
        )
    except SideError as error:
        pip_said = [line for line in str(error).splitlines() if line.startswith("ERROR")][-1:]
        indexes = ", ".join(key for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL") if os.environ.get(key))
        raise SideError(
            f"the pinned {entry.split(maxsplit=1)[0]} is on no index pip was given ({indexes or 'PyPI only'}): "
            "set PIP_EXTRA_INDEX_URL to the install URL of a private index that holds it (`tox -e index -- --fill` "
            "runs one here, `tox -e seed` fills yours: docs/releasing.md), or pass --baseline with its wheel "
            f"(`tox -e seed -- --out wheels` builds it). {' '.join(pip_said)}"
        ) from None
    [wheel] = download.glob("*.whl")
    return wheel


def directory_digest(package: Path) -> str:
    """The hash of what a package directory builds from (not its approvals, nor build leftovers)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or relative.parts[0] in SKIPPED_IN_DIRECTORIES or "__pycache__" in relative.parts:
            continue
        if relative.parts[0].endswith(".egg-info"):
            continue
        digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ask(side: Side) -> dict[str, Any]:
    """The side's answers for every car (``release/probe.py``'s output)."""
    output = run_bounded(
        # -P: release/, the probe's folder, is not put on the path (its modules are not the model's).
        [str(side.python), "-P", str(PROBE)],
        env=isolated_pip_env(PYTHONPATH=str(side.model_dir)),
        timeout=PROBE_TIMEOUT_S,
        what=f"{side.spec}: asking the model",
        cwd=side.model_dir,
    )
    answers: dict[str, Any] = json.loads(output)
    check_installed(side, answers)
    return answers


def check_installed(side: Side, answers: dict[str, Any]) -> None:
    """The model answered from where it was installed, with the libraries it asks for."""
    module = Path(answers["module_file"]).resolve()
    expected = side.model_dir.resolve()
    if not module.is_relative_to(expected):
        raise SideError(f"{side.spec}: the model was imported from {module}, not from {expected}")
    installed = {canonicalize_name(name): version for name, version in answers["installed"].items()}
    unmet = []
    for line in answers["requires"]:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = installed.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            unmet.append(f"{requirement} (requirements.txt pins {version or 'nothing'})")
    if unmet:
        raise SideError(
            f"{side.spec} (version {answers['version']}) needs libraries that requirements.txt does not pin: "
            f"{', '.join(unmet)}; a diff runs both models on the deploy's libraries, so lock them first"
        )
