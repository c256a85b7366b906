"""Regenerate requirements.txt: every deploy dependency pinned to a version and its hashes.

    python -m release.lock            (or: tox -e lock)

pip-compile resolves requirements/deploy.in against PyPI and takes car-evaluation-model from
a wheel built here from model-package/. The build is reproducible, so that wheel is byte for
byte the one ``release.publish`` uploads and its hash is the only one pinned for it: pip
will install no other file under that name, from any index.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools import REPO_ROOT
from release.build import build_distributions
from release.environment import isolated_pip_env

DEPLOY_IN = REPO_ROOT / "requirements" / "deploy.in"
REQUIREMENTS = REPO_ROOT / "requirements.txt"


def lock(output: Path = REQUIREMENTS) -> None:
    with tempfile.TemporaryDirectory() as wheels:
        _, sdist = build_distributions(Path(wheels))
        sdist.unlink()  # only the wheel is reproducible, so only its hash is pinned
        # A new file (pip-compile would keep an old one's hashes), put in place once complete:
        # a failed resolution (the index unreachable) leaves the old one as it was.
        compiled = Path(wheels) / "requirements.txt"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "piptools",
                "compile",
                "--quiet",
                "--generate-hashes",
                "--allow-unsafe",
                "--strip-extras",
                "--no-emit-index-url",
                "--no-emit-find-links",
                "--find-links",
                wheels,
                "--output-file",
                str(compiled),
                str(DEPLOY_IN.relative_to(REPO_ROOT)),
            ],
            check=True,
            cwd=REPO_ROOT,
            env=isolated_pip_env(CUSTOM_COMPILE_COMMAND="tox -e lock"),
        )
        shutil.move(compiled, output)


if __name__ == "__main__":
    lock()
