"""The model diff and the gate on answers of the real model, with flips made by hand.

The sides' installation in environments of their own is tested end to end in test_release_gate.py.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sklearn.metrics import f1_score

from release import probe
from release.diff import (
    CANNOT_COMPARE,
    Answers,
    ComparisonError,
    approve,
    compare,
    macro_f1,
    main,
    write_reports,
)
from release.gate import refusals

# Cars (by position in the domain) flipped by hand, each to the next class.
FLIPPED_CARS = (0, 900, 1727)


@pytest.fixture(scope="module")
def baseline() -> Answers:
    return Answers.from_probe(probe.answers())


@pytest.fixture(scope="module")
def flips(baseline: Answers) -> dict[int, str]:
    classes = baseline.classes
    return {
        position: classes[(classes.index(baseline.labels[position]) + 1) % len(classes)] for position in FLIPPED_CARS
    }


def flipped(answers: Answers, flips: dict[int, str], version: str = "9.9.9") -> Answers:
    labels = list(answers.labels)
    probabilities = [list(row) for row in answers.probabilities]
    for position, label in flips.items():
        labels[position] = label
        probabilities[position] = [1.0 if name == label else 0.0 for name in answers.classes]
    return replace(answers, version=version, labels=labels, probabilities=probabilities)


def test_the_same_answers_do_not_flip(baseline: Answers) -> None:
    report = compare(baseline, baseline)
    assert report["flips"] == 0
    assert report["flipped"] == []
    assert report["max_probability_change"] == 0
    counts = {label: baseline.labels.count(label) for label in baseline.classes}
    assert report["transitions"] == {
        before: {after: counts[before] if before == after else 0 for after in baseline.classes}
        for before in baseline.classes
    }
    # The shipped model was refitted on the whole data set, which it fits exactly.
    assert report["metrics"]["baseline"]["accuracy"] == 1.0
    assert (
        report["metrics"]["baseline"]["cross_validation"]["accuracy"]
        == baseline.model_card["cross_validation"]["accuracy"]
    )


def test_every_flip_is_listed_counted_and_located(baseline: Answers, flips: dict[int, str]) -> None:
    candidate = flipped(baseline, flips)
    report = compare(baseline, candidate)
    cars = baseline.cars()

    assert report["flips"] == len(flips)
    assert report["flipped"] == [
        {"car": cars[position], "baseline": baseline.labels[position], "candidate": label}
        for position, label in sorted(flips.items())
    ]
    for position, label in flips.items():
        assert report["transitions"][baseline.labels[position]][label] >= 1  # (pairs may repeat)
    assert (
        sum(report["transitions"][before][after] for before in baseline.classes for after in baseline.classes) == 1728
    )
    for feature, values in baseline.features.items():
        for value in values:
            flips_with_value = sum(1 for position in flips if cars[position][feature] == value)
            with_value = sum(1 for car in cars if car[feature] == value)
            assert report["flips_by_feature_value"][feature][value] == {
                "cars": with_value,
                "flips": flips_with_value,
                "rate": flips_with_value / with_value,
            }
    at = report["max_probability_change_at"]
    assert at["car"] in [cars[position] for position in flips]
    assert report["max_probability_change"] == pytest.approx(abs(at["candidate"] - at["baseline"]))
    assert report["max_probability_change"] > 0.5  # a flip to a certain answer moves the probability a lot


def test_metrics_are_computed_on_the_data_set(baseline: Answers) -> None:
    vgood = [position for position, label in enumerate(baseline.labels) if label == "vgood"]
    report = compare(baseline, flipped(baseline, dict.fromkeys(vgood, "good")))
    candidate = report["metrics"]["candidate"]
    assert candidate["accuracy"] == pytest.approx(1 - len(vgood) / 1728)
    # vgood never predicted: its F1 is 0; good's precision halves about; the others stay 1.
    good = baseline.labels.count("good")
    good_f1 = 2 * good / (2 * good + len(vgood))
    assert candidate["macro_f1"] == pytest.approx((1 + 1 + good_f1 + 0) / 4)


@pytest.mark.parametrize("seed", range(5))
def test_macro_f1_agrees_with_scikit_learn(baseline: Answers, seed: int) -> None:
    rng = random.Random(seed)
    classes = baseline.classes
    truth = [rng.choice(classes[: 1 + seed % 4]) for _ in range(300)]  # some classes never true
    predicted = [label if rng.random() < 0.8 else rng.choice(classes) for label in truth]
    expected = f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)
    assert macro_f1(truth, predicted, classes) == pytest.approx(expected, abs=1e-12)


def test_models_of_different_domains_cannot_be_compared(baseline: Answers) -> None:
    other = replace(baseline, features={**baseline.features, "doors": ["2", "3", "4"]})
    with pytest.raises(ComparisonError, match="features"):
        compare(baseline, other)


def test_the_gate_wants_an_approval_of_this_very_diff(baseline: Answers, flips: dict[int, str], tmp_path: Path) -> None:
    assert refusals(compare(baseline, flipped(baseline, {})), tmp_path) == []

    report = compare(baseline, flipped(baseline, flips))
    [refused] = refusals(report, tmp_path)
    assert "3 of 1728 cars change class" in refused
    assert "python -m release.diff --approve" in refused

    path = approve(report, tmp_path)
    assert path == tmp_path / "9.9.9.json"
    assert json.loads(path.read_text())["digest"] == report["digest"]
    assert refusals(report, tmp_path) == []

    other = compare(baseline, flipped(baseline, {**flips, 5: "vgood" if baseline.labels[5] != "vgood" else "acc"}))
    [refused] = refusals(other, tmp_path)
    assert "4 of 1728 cars change class" in refused
    assert "is for another diff (3 flips" in refused


def test_a_drop_in_accuracy_is_refused_even_when_approved(baseline: Answers, tmp_path: Path) -> None:
    # 18 of 1728 cars wrong: accuracy 0.9896, more than 0.01 below 1.0.
    wrong = {position: "unacc" for position, label in enumerate(baseline.labels) if label == "acc"}
    report = compare(baseline, flipped(baseline, dict(list(wrong.items())[:18])))
    approve(report, tmp_path)
    [refused] = refusals(report, tmp_path)
    assert re.search(r"accuracy on the data set drops from 1\.0000 to 0\.9896", refused)
    assert "no approval overrides this" in refused
    # Within a wider margin the approval is enough.
    assert refusals(report, tmp_path, margin=0.05) == []


def test_the_reports_hold_the_diff(baseline: Answers, flips: dict[int, str], tmp_path: Path) -> None:
    report = compare(baseline, flipped(baseline, flips))
    json_path, markdown_path, html_path = write_reports(report, tmp_path)
    written = json.loads(json_path.read_text())
    for key in ("baseline_version", "candidate_version", "flips", "transitions", "flipped", "max_probability_change"):
        assert written[key] == report[key]
    assert set(written["metrics"]["candidate"]) >= {"accuracy", "macro_f1"}
    markdown = markdown_path.read_text()
    page = html_path.read_text()
    for flip in report["flipped"]:
        row = " | ".join([*flip["car"].values(), flip["baseline"], flip["candidate"]])
        assert f"| {row} |" in markdown
    assert page.count("<svg") == 2  # the heatmap and the flip rates
    assert 'id="transitions"' in page
    assert 'id="flip-rates"' in page


def test_a_side_that_cannot_be_installed_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--baseline", str(tmp_path / "missing.whl"), "--out", str(tmp_path / "out")])
    assert status == CANNOT_COMPARE
    assert "missing.whl: no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
