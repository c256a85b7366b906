"""Publish the model package to the private index.

    TWINE_REPOSITORY_URL=https://private.example/ TWINE_USERNAME=... TWINE_PASSWORD=... \\
        python -m release.publish            (or: tox -e publish)

Trains the model if the artifact for this VERSION is missing, builds the wheel and sdist
reproducibly, checks them with ``twine check`` and uploads them with ``twine upload``.
twine reads the index URL and credentials from the environment; nothing secret is passed on
a command line, written to a file or printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from car_evaluation_model import __version__
from car_evaluation_model.processing.data_manager import file_sha256, pipeline_path
from car_evaluation_model.train_pipeline import run_training, summary
from release.build import build_distributions

TWINE_SETTINGS = ("TWINE_REPOSITORY_URL", "TWINE_USERNAME", "TWINE_PASSWORD")


def ensure_trained() -> None:
    if not pipeline_path().is_file():
        print(f"no trained model for {__version__}: training")
        print(summary(run_training()))


def check(distributions: list[Path]) -> None:
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, distributions)], check=True)


def upload(distributions: list[Path], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``twine upload``; the URL and credentials come from TWINE_* in ``env`` (or the process's)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            *map(str, distributions),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def main() -> None:
    missing = [name for name in TWINE_SETTINGS if not os.environ.get(name)]
    if missing:
        sys.exit(f"set {', '.join(missing)} (the private index's upload URL and credentials)")
    ensure_trained()
    with tempfile.TemporaryDirectory() as out:
        wheel, sdist = build_distributions(Path(out))
        check([wheel, sdist])
        result = upload([wheel, sdist])
        print(result.stdout, result.stderr, sep="\n")
        if result.returncode:
            sys.exit(f"upload failed ({result.returncode})")
        print(f"published car-evaluation-model {__version__}: {wheel.name} sha256 {file_sha256(wheel)}")
        print("next: `tox -e lock` to pin this wheel's hash in requirements.txt, then deploy")


if __name__ == "__main__":
    main()
