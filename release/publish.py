"""Publish the model package to the private index, behind the release gate.

    TWINE_REPOSITORY_URL=https://private.example/ TWINE_USERNAME=... TWINE_PASSWORD=... \\
    PIP_EXTRA_INDEX_URL=https://user:password@private.example/simple/ \\
        python -m release.publish [--package DIR] [--margin 0.01] [--check]     (or: tox -e publish)

Trains the model if the artifact for this VERSION is missing, then runs the model diff
against the version requirements.txt pins (installed from the private index as the deploy
does) and refuses a candidate whose answers differ without an approval of that exact diff
(``python -m release.diff --approve``), or whose accuracy or macro-F1 on the data set drops by
more than the margin. An accepted candidate's model card records the diff summary against its
predecessor; then the wheel and sdist are built reproducibly, checked with ``twine check`` and
uploaded with ``twine upload``. ``--check`` stops after the gate.

twine reads the index URL and credentials from the environment; nothing secret is passed on
a command line, written to a file or printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from car_evaluation_model.processing.data_manager import file_sha256
from release.build import MODEL_PACKAGE, build_distributions
from release.diff import APPROVALS, DEFAULT_OUT, ComparisonError, run_diff, summary, write_reports
from release.gate import DEFAULT_MARGIN, refusals
from release.sides import DEFAULT_CACHE, PINNED, SideError

TWINE_SETTINGS = ("TWINE_REPOSITORY_URL", "TWINE_USERNAME", "TWINE_PASSWORD")
# The model card's record of what changed since the version it replaces (the page and v2 metadata show it).
CHANGES_KEY = "changes_from_previous"


def package_version(package: Path) -> str:
    return (package / "car_evaluation_model" / "VERSION").read_text(encoding="utf-8").strip()


def model_card_of(package: Path) -> Path:
    [card] = (package / "car_evaluation_model" / "trained_models").glob(f"*_v{package_version(package)}.json")
    return card


def ensure_trained(package: Path) -> None:
    version = package_version(package)
    if not list((package / "car_evaluation_model" / "trained_models").glob(f"*_v{version}.pkl")):
        print(f"no trained model for {version}: training")
        # In a process of its own: the package to train is ``package``, not the one installed here.
        subprocess.run(
            [sys.executable, "-m", "car_evaluation_model.train_pipeline"],
            cwd=package,
            env={**os.environ, "PYTHONPATH": str(package)},
            check=True,
        )


def record_changes(package: Path, changes: dict[str, object]) -> None:
    """Write the diff summary into the candidate's model card (it ships in the wheel)."""
    path = model_card_of(package)
    card = json.loads(path.read_text(encoding="utf-8"))
    card[CHANGES_KEY] = changes
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", type=Path, default=MODEL_PACKAGE, help="default: model-package/")
    parser.add_argument(
        "--margin", type=float, default=DEFAULT_MARGIN, help="largest accepted drop of accuracy or macro-F1"
    )
    parser.add_argument("--check", action="store_true", help="run the gate only: no training, build or upload")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the diff's reports go")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the deploy's environment is kept")
    args = parser.parse_args(argv)
    package = args.package.resolve()
    missing = [name for name in TWINE_SETTINGS if not os.environ.get(name)]
    if missing and not args.check:
        sys.exit(f"set {', '.join(missing)} (the private index's upload URL and credentials)")
    if not args.check:
        ensure_trained(package)

    try:
        report = run_diff(PINNED, str(package), cache=args.cache)
    except (SideError, ComparisonError) as error:
        sys.exit(f"refused: cannot compare with the pinned model: {error}")
    write_reports(report, args.out)
    print(f"diff against the pinned {report['baseline_version']}: {report['flips']} flips (reports in {args.out})")
    refused = refusals(report, package / APPROVALS, args.margin)
    if refused:
        sys.exit("refused:\n" + "\n".join(f"- {reason}" for reason in refused))
    print(f"the gate accepts {report['candidate_version']}" + (" (approved)" if report["flips"] else ""))
    if args.check:
        return
    if report["candidate_version"] == report["baseline_version"]:
        sys.exit(f"{report['candidate_version']} is the version requirements.txt pins already: bump VERSION to publish")

    record_changes(package, summary(report))
    with tempfile.TemporaryDirectory() as out:
        wheel, sdist = build_distributions(Path(out), package)
        check([wheel, sdist])
        result = upload([wheel, sdist])
        print(result.stdout, result.stderr, sep="\n")
        if result.returncode:
            sys.exit(f"upload failed ({result.returncode})")
        print(f"published car-evaluation-model {report['candidate_version']}: {wheel.name} sha256 {file_sha256(wheel)}")
        print(
            f"next: commit {model_card_of(package).relative_to(package.parent)} (it records this diff), "
            "`tox -e lock` to pin this wheel's hash in requirements.txt, then deploy"
        )


if __name__ == "__main__":
    main()
