"""Fill a private index with the model package requirements.txt pins, built from this repository.

    python -m release.seed                 upload it (TWINE_REPOSITORY_URL, TWINE_USERNAME, TWINE_PASSWORD)
    python -m release.seed --out DIR       only write it into DIR (a pypiserver's folder, the image's wheels/)
    (or: tox -e seed -- ...; tox -e index -- --fill serves a local index that holds it)

The build is reproducible, so the wheel built here is byte for byte the one requirements.txt
pins: its sha256 is checked against the pin before it goes anywhere. It is built from
model-package/ as it is; if that has changed since the pin (a release in progress), from
model-package/ as it was in the commit that pinned that hash (``git log -S``). Only the wheel:
the sdist is not reproducible, and pip is never allowed to use it. No gate: this is the version
already released, not a candidate.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from car_evaluation_model.processing.data_manager import file_sha256
from devtools import REPO_ROOT
from release.build import MODEL_PACKAGE, build_distributions
from release.publish import TWINE_SETTINGS, upload
from release.sides import REQUIREMENTS, redacted, split_requirements


class SeedError(RuntimeError):
    """The pinned wheel cannot be built here."""


@dataclass(frozen=True)
class Pin:
    version: str
    sha256: str


def pinned(requirements: Path = REQUIREMENTS) -> Pin:
    """The model package's version and the one wheel hash requirements.txt pins for it."""
    entry = split_requirements(requirements)[1]
    version = re.search(r"==(\S+)", entry)
    hashes = re.findall(r"--hash=sha256:(\w+)", entry)
    if version is None or len(hashes) != 1:
        raise SeedError(f"{requirements} must pin one version and one hash of the model package, not {entry!r}")
    return Pin(version.group(1), hashes[0])


def pinning_commit(pin: Pin) -> str | None:
    """The commit that wrote the pin's hash into requirements.txt (None: no git history here)."""
    try:
        found = subprocess.run(
            ["git", "log", "-1", "--format=%H", "-S", pin.sha256, "--", REQUIREMENTS.name],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return found.stdout.strip() or None


def package_at(commit: str, into: Path) -> Path:
    """model-package/ as it is in ``commit``, extracted into ``into``."""
    into.mkdir(parents=True)
    archive = into / "model-package.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "archive", "--format=tar", commit, MODEL_PACKAGE.name], cwd=REPO_ROOT, stdout=out, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / MODEL_PACKAGE.name


def build_pinned(out_dir: Path) -> Path:
    """The pinned wheel, built here into ``out_dir`` and checked against the pin's hash."""
    pin = pinned()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="car-evaluation-seed-") as work:
        built = {"model-package/": _wheel(MODEL_PACKAGE, Path(work) / "here")}
        if file_sha256(built["model-package/"]) != pin.sha256:
            commit = pinning_commit(pin)
            if commit is not None:
                source = package_at(commit, Path(work) / "pinned-source")
                built[f"model-package/ in {commit[:12]}"] = _wheel(source, Path(work) / "pinned")
        for wheel in built.values():
            if file_sha256(wheel) == pin.sha256:
                return Path(shutil.copy2(wheel, out_dir / wheel.name))
    found = "; ".join(f"{where} builds sha256 {file_sha256(wheel)}" for where, wheel in built.items())
    raise SeedError(
        f"requirements.txt pins car-evaluation-model {pin.version} as sha256 {pin.sha256}, but {found}: "
        "check out the commit that pinned it (or a clone with its history)"
    )


def _wheel(package: Path, out_dir: Path) -> Path:
    wheel, sdist = build_distributions(out_dir, package)
    sdist.unlink()
    return wheel


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="write the wheel into this folder instead of uploading it")
    args = parser.parse_args(argv)
    missing = [name for name in TWINE_SETTINGS if not os.environ.get(name)]
    if args.out is None and missing:
        sys.exit(f"set {', '.join(missing)} (the private index's upload URL and credentials), or pass --out DIR")
    try:
        with tempfile.TemporaryDirectory(prefix="car-evaluation-seed-") as staging:
            wheel = build_pinned(args.out or Path(staging))
            print(f"{wheel.name}: sha256 {file_sha256(wheel)}, as requirements.txt pins it")
            if args.out is None:
                result = upload([wheel])
                if result.returncode:
                    sys.exit(f"upload failed ({result.returncode}):\n{redacted(result.stdout + result.stderr)}")
    except RuntimeError as error:  # a SeedError, or the build's own failure
        sys.exit(f"cannot seed: {error}")
    print(f"written into {args.out}" if args.out else "uploaded to the index at TWINE_REPOSITORY_URL")


if __name__ == "__main__":
    main()
