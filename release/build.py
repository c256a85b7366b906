"""Build the model package the same way every time, so that its wheel's hash can be pinned."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devtools import REPO_ROOT
from release.environment import isolated_pip_env

MODEL_PACKAGE = REPO_ROOT / "model-package"
# A fixed timestamp for every file in the archives (1980-01-01, the earliest a zip can hold).
SOURCE_DATE_EPOCH = "315532800"


def build_distributions(out_dir: Path, package: Path = MODEL_PACKAGE) -> tuple[Path, Path]:
    """Build ``package`` (model-package/) into ``out_dir``; return (wheel, sdist).

    The wheel is the same bytes on every build of the same source (its hash is pinned in
    requirements.txt); the sdist's gzip header varies, and pip is never allowed to use it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out_dir), str(package)],
        check=False,
        env=isolated_pip_env(SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH),
        capture_output=True,
        text=True,
    )
    if built.returncode:  # its progress is noise; its failure is not
        raise RuntimeError(
            f"building {package} failed ({built.returncode}):\n{built.stdout[-2000:]}{built.stderr[-3000:]}"
        )
    [wheel] = sorted(out_dir.glob("car_evaluation_model-*.whl"))
    [sdist] = sorted(out_dir.glob("car_evaluation_model-*.tar.gz"))
    return wheel, sdist
