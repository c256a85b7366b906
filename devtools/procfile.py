"""The Procfile's ``web`` command, as the tests run it: on 127.0.0.1, with the running venv first on PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from devtools import REPO_ROOT

PROCFILE = REPO_ROOT / "Procfile"


def web_command(procfile: Path = PROCFILE) -> str:
    """The ``web:`` line's command with its 0.0.0.0 bind narrowed to 127.0.0.1 ($PORT left to the shell)."""
    [line] = [line for line in procfile.read_text(encoding="utf-8").splitlines() if line.startswith("web:")]
    return line.removeprefix("web:").strip().replace("0.0.0.0", "127.0.0.1")


def web_process(bin_dir: Path = Path(sys.executable).parent) -> tuple[list[str], dict[str, str]]:
    """A shell command line and environment that run the web command with ``bin_dir``'s programs."""
    return ["sh", "-c", f"exec {web_command()}"], {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
