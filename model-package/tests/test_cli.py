"""The command's summary: its rows/s counts the whole run, the libraries' imports and the model's loading included."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

RUN_TIMEOUT_S = 300
CARS = "buying,maint,doors,persons,lug_boot,safety\nlow,low,4,more,big,high\n"


def imports(stderr: str) -> list[tuple[str, bool, float]]:
    """``-X importtime``'s modules: each name, whether imported at the top (not by another import), its seconds."""
    found = []
    for line in stderr.splitlines():
        if match := re.fullmatch(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)", line):
            found.append((match[3], not match[2], int(match[1]) / 1e6))
    return found


def test_the_summarys_seconds_include_the_imports_made_after_the_command_started(tmp_path: Path) -> None:
    source = tmp_path / "cars.csv"
    source.write_text(CARS)
    loaded_with_the_module = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import car_evaluation_model.cli"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=True,
    )
    run = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "car_evaluation_model.cli",
            "score",
            str(source),
            str(tmp_path / "out.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=True,
    )
    reported = re.search(r"rows/s \((\d+\.\d+) s\)", run.stdout)
    assert reported is not None, run.stdout
    before_main = {name for name, _, _ in imports(loaded_with_the_module.stderr)}
    # What main() imported: pydantic for its --help, then Arrow, pandas, scikit-learn and the model.
    during_main = {name: seconds for name, top, seconds in imports(run.stderr) if top and name not in before_main}
    assert "car_evaluation_model.config.core" in during_main
    assert float(reported[1]) >= round(sum(during_main.values()), 2) - 0.01, during_main
