"""What a new model would answer differently: every car of the domain, baseline against candidate.

    python -m release.diff [--baseline SPEC] [--candidate SPEC] [--out DIR] [--approve]
    (or: tox -e diff -- ...)

A SPEC is ``pinned`` (the version requirements.txt pins, installed as the deploy installs it:
the default baseline), a wheel file, a package directory (default candidate: model-package/)
or a version on the private index (PIP_EXTRA_INDEX_URL, as for the deploy). Both models
answer for all 1728 cars; the report (``model-diff.md``, ``.json``, ``.html`` in DIR, default
reports/) lists every car whose class flips, the transition matrix, the flips per feature
value, the largest probability change and both models' accuracy and macro-F1.

``--approve`` records the digest of this exact diff in ``approvals/<candidate version>.json``
next to the candidate's package (model-package/approvals/ for a wheel or a version), which
``release.publish`` requires before it uploads a candidate whose answers differ.

Exit status: 0 the models were compared (the report says whether anything flips: finding flips
is the diff doing its job, so tox reports it as a success), 2 they could not be; with
``--exit-code`` (as ``git diff --exit-code``), 1 when something flips, for scripts that stop there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools import REPO_ROOT
from release.report import html_report, markdown_report
from release.sides import DEFAULT_CACHE, PINNED, REQUIREMENTS, SideError, ask, install_side

DEFAULT_CANDIDATE = REPO_ROOT / "model-package"
DEFAULT_OUT = REPO_ROOT / "reports"
APPROVALS = "approvals"
REPORT_NAME = "model-diff"

COMPARED, SOMETHING_FLIPS, CANNOT_COMPARE = 0, 1, 2


@dataclass(frozen=True)
class Answers:
    """One model's answers for every car of the domain, in the domain's order."""

    version: str
    features: dict[str, list[str]]
    classes: list[str]
    labels: list[str]
    probabilities: list[list[float]]  # per car, one per class in ``classes`` order
    data_set: list[list[str]]  # the package's labelled data: feature values, then the true class
    model_card: dict[str, Any]

    @classmethod
    def from_probe(cls, probe: dict[str, Any]) -> Answers:
        return cls(**{name: probe[name] for name in cls.__dataclass_fields__})

    def cars(self) -> list[dict[str, str]]:
        """Every car, in the order of ``labels`` (the product of the features' values)."""
        cars: list[dict[str, str]] = [{}]
        for feature, values in self.features.items():
            cars = [{**car, feature: value} for car in cars for value in values]
        return cars


class ComparisonError(ValueError):
    """The two models do not answer the same question (other features, values or classes)."""


def macro_f1(truth: list[str], predicted: list[str], classes: list[str]) -> float:
    """The mean over classes of F1 = 2 TP / (2 TP + FP + FN); 0 for a class never seen nor predicted.

    scikit-learn's f1_score(average="macro", zero_division=0), without its import (seconds,
    on every run): the tests check the two agree.
    """
    pairs = Counter(zip(truth, predicted, strict=True))
    total = 0.0
    for label in classes:
        hits = pairs[label, label]
        wrong = sum(count for (true, guess), count in pairs.items() if (true == label) != (guess == label))
        total += 2 * hits / (2 * hits + wrong) if hits or wrong else 0.0
    return total / len(classes)


def scores(answers: Answers) -> dict[str, Any]:
    """Accuracy and macro-F1 on the package's own data set, and on the model card's CV folds."""
    label_of = {tuple(car.values()): label for car, label in zip(answers.cars(), answers.labels, strict=True)}
    truth = [row[-1] for row in answers.data_set]
    predicted = [label_of[tuple(row[:-1])] for row in answers.data_set]
    cv = answers.model_card.get("cross_validation", {})
    return {
        "accuracy": sum(map(str.__eq__, truth, predicted)) / len(truth),
        "macro_f1": macro_f1(truth, predicted, answers.classes),
        "rows": len(truth),
        "cross_validation": {
            "folds": cv.get("folds"),
            "accuracy": cv.get("accuracy"),
            "macro_f1": cv.get("f1_macro"),
        },
    }


def digest(baseline_version: str, candidate_version: str, flipped: list[dict[str, Any]]) -> str:
    """The identity of a diff: the two versions and which car flips from what to what.

    Probabilities are left out: an approval is for the answers (classes) that change.
    """
    canonical = json.dumps(
        {"baseline_version": baseline_version, "candidate_version": candidate_version, "flipped": flipped},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def compare(baseline: Answers, candidate: Answers) -> dict[str, Any]:
    """The diff of two models' answers over the whole domain (the JSON report)."""
    for what in ("features", "classes"):
        if getattr(baseline, what) != getattr(candidate, what):
            raise ComparisonError(
                f"the models have different {what}: {getattr(baseline, what)} and {getattr(candidate, what)}"
            )
    cars, classes = baseline.cars(), baseline.classes
    if not len(cars) == len(baseline.labels) == len(candidate.labels):
        raise ComparisonError(f"{len(cars)} cars but {len(baseline.labels)} and {len(candidate.labels)} answers")
    pairs = list(zip(baseline.labels, candidate.labels, strict=True))
    counted = Counter(pairs)
    flipped: list[dict[str, Any]] = [
        {"car": car, "baseline": before, "candidate": after}
        for car, (before, after) in zip(cars, pairs, strict=True)
        if before != after
    ]

    def counts(feature: str, value: str) -> dict[str, float]:
        with_value = sum(1 for car in cars if car[feature] == value)
        flips = sum(1 for flip in flipped if flip["car"][feature] == value)
        return {"cars": with_value, "flips": flips, "rate": flips / with_value}

    by_value = {
        feature: {value: counts(feature, value) for value in values} for feature, values in baseline.features.items()
    }
    change, position, column = max(
        (abs(after - before), position, column)
        for position, (row_before, row_after) in enumerate(
            zip(baseline.probabilities, candidate.probabilities, strict=True)
        )
        for column, (before, after) in enumerate(zip(row_before, row_after, strict=True))
    )
    return {
        "baseline_version": baseline.version,
        "candidate_version": candidate.version,
        "cars": len(cars),
        "flips": len(flipped),
        "transitions": {before: {after: counted[before, after] for after in classes} for before in classes},
        "flips_by_feature_value": by_value,
        "max_probability_change": change,
        "max_probability_change_at": {
            "car": cars[position],
            "class": classes[column],
            "baseline": baseline.probabilities[position][column],
            "candidate": candidate.probabilities[position][column],
        },
        "metrics": {"baseline": scores(baseline), "candidate": scores(candidate)},
        "flipped": flipped,
        "digest": digest(baseline.version, candidate.version, flipped),
    }


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """What a model card records of the diff against its predecessor."""
    return {
        "previous_version": report["baseline_version"],
        "cars": report["cars"],
        "flips": report["flips"],
        "transitions": {
            f"{before} -> {after}": count
            for before, row in report["transitions"].items()
            for after, count in row.items()
            if before != after and count
        },
        "max_probability_change": report["max_probability_change"],
        "metrics": {
            side: {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}
            for side, scores in report["metrics"].items()
        },
        "digest": report["digest"],
    }


def changed_pairs(report: dict[str, Any]) -> str:
    """``acc -> good: 3, unacc -> acc: 1`` (or ``none``)."""
    return ", ".join(f"{pair}: {count}" for pair, count in summary(report)["transitions"].items()) or "none"


def run_diff(
    baseline: str, candidate: str, *, cache: Path = DEFAULT_CACHE, requirements: Path = REQUIREMENTS
) -> dict[str, Any]:
    """Install both sides, ask each for its answers, compare; raises SideError or ComparisonError."""
    with tempfile.TemporaryDirectory(prefix="model-diff-") as work:
        sides = [install_side(spec, Path(work), cache, requirements) for spec in (baseline, candidate)]
        # Each in a process of its own: both at once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            baseline_answers, candidate_answers = (Answers.from_probe(answers) for answers in pool.map(ask, sides))
    return compare(baseline_answers, candidate_answers)


def approvals_dir(candidate: str) -> Path:
    path = Path(candidate)
    return (path if path.is_dir() else DEFAULT_CANDIDATE) / APPROVALS


def approval_path(directory: Path, version: str) -> Path:
    return directory / f"{version}.json"


def approve(report: dict[str, Any], directory: Path) -> Path:
    """Record that this exact diff was reviewed: commit the file it writes."""
    directory.mkdir(parents=True, exist_ok=True)
    path = approval_path(directory, report["candidate_version"])
    record = {
        "baseline_version": report["baseline_version"],
        "candidate_version": report["candidate_version"],
        "flips": report["flips"],
        "transitions": summary(report)["transitions"],
        "digest": report["digest"],
        "approved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def write_reports(report: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = {
        out / f"{REPORT_NAME}.json": json.dumps(report, indent=2) + "\n",
        out / f"{REPORT_NAME}.md": markdown_report(report),
        out / f"{REPORT_NAME}.html": html_report(report),
    }
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    return list(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=PINNED, help="default: the version requirements.txt pins")
    parser.add_argument("--candidate", default=str(DEFAULT_CANDIDATE), help="default: model-package/")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: reports/")
    parser.add_argument("--approve", action="store_true", help="approve this diff for release.publish")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the deploy's environment is kept")
    parser.add_argument("--exit-code", action="store_true", help="exit 1 when something flips")
    args = parser.parse_args(argv)
    try:
        report = run_diff(args.baseline, args.candidate, cache=args.cache)
    except (SideError, ComparisonError) as error:
        print(f"cannot compare: {error}", file=sys.stderr)
        return CANNOT_COMPARE
    paths = write_reports(report, args.out)
    print(
        f"{report['baseline_version']} -> {report['candidate_version']}: {report['flips']} of {report['cars']} cars "
        f"change class ({changed_pairs(report)}); largest probability change {report['max_probability_change']:.4f}"
    )
    for side, scores in report["metrics"].items():
        print(f"  {side:<9} accuracy {scores['accuracy']:.4f}  macro-F1 {scores['macro_f1']:.4f} (data set)")
    print("reports: " + ", ".join(str(path) for path in paths))
    if args.approve:
        if report["flips"]:
            print(f"approved: {approve(report, approvals_dir(args.candidate))} (commit it)")
        else:
            print("nothing flips: no approval needed")
    return SOMETHING_FLIPS if report["flips"] and args.exit_code else COMPARED


if __name__ == "__main__":
    sys.exit(main())
