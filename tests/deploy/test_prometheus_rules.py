"""The Prometheus rules and example configuration pass promtool, and the rules' unit tests pass and can fail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from devtools import REPO_ROOT

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"


def promtool_output(promtool: str, *args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def assert_succeeds(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_are_valid(promtool: str) -> None:
    assert_succeeds(promtool_output(promtool, "check", "rules", "rules.yml"))


def test_example_config_is_valid(promtool: str) -> None:
    # Also checks the rule files it loads, relative to the configuration's directory.
    assert_succeeds(promtool_output(promtool, "check", "config", "prometheus.yml"))


def test_rule_unit_tests_pass(promtool: str) -> None:
    assert_succeeds(promtool_output(promtool, "test", "rules", "rules.test.yml"))


@pytest.mark.parametrize(
    ("original", "broken"),
    [
        pytest.param("input_drift_tvd:1h > 0.2", "input_drift_tvd:1h > 0.4", id="drift threshold raised"),
        pytest.param(
            "(sum by (feature) (rate(car_evaluation_input_values_total[1h])) > 0)",
            "(sum by (feature) (rate(car_evaluation_input_values_total[1h])))",
            id="no-traffic guard removed",
        ),
        pytest.param("input_rows:1h >= 100", "input_rows:1h >= 10", id="row minimum lowered"),
        pytest.param("0.5 * sum by (feature)", "sum by (feature)", id="distance not halved"),
        pytest.param(
            "max by (feature, value) (car_evaluation_training_value_ratio)",
            "sum by (feature, value) (car_evaluation_training_value_ratio)",
            id="training share summed over replicas",
        ),
        pytest.param("http_5xx_ratio:5m > 0.05", "http_5xx_ratio:5m > 0.5", id="error threshold raised"),
        pytest.param("p99_5m > 1\n", "p99_5m > 2\n", id="latency threshold raised"),
        pytest.param(
            "canary_class_mix_tvd:30m > 0.1", "canary_class_mix_tvd:30m > 0.3", id="class mix threshold raised"
        ),
        pytest.param('{track="canary"} >= 500', '{track="canary"} >= 100', id="canary row minimum lowered"),
        pytest.param("0.5 * sum (", "sum (", id="class mix distance not halved"),
        pytest.param(
            'class_share:30m{track="canary"} or on (class) 0 *',
            'class_share:30m{track="canary"} or on (class) 1 *',
            id="missing class not counted as 0",
        ),
        pytest.param("\n            > 0.01\n", "\n            > 0.1\n", id="canary error threshold raised"),
        pytest.param('{track="canary"} >= 100', '{track="canary"} >= 10', id="canary request minimum lowered"),
        pytest.param(
            "not_recorded_total[5m])) > 0", "not_recorded_total[5m])) > 1000", id="unrecorded threshold raised"
        ),
        pytest.param("\n            > 0.5\n", "\n            > 0.9\n", id="spool threshold raised"),
        pytest.param("write_lag_seconds) > 300", "write_lag_seconds) > 900", id="write lag threshold raised"),
        pytest.param(
            "max by (instance) (car_evaluation_ledger_spool_bytes)",
            "sum (car_evaluation_ledger_spool_bytes)",
            id="spools summed over replicas",
        ),
        pytest.param(
            "on (model_version) car_evaluation:ledger_accuracy > 0.05",
            "on (model_version) car_evaluation:ledger_accuracy > 0.1",
            id="estimate margin raised",
        ),
        pytest.param(
            "group_right () car_evaluation:ledger_accuracy > 0.05",
            "group_right () car_evaluation:ledger_accuracy > 0.1",
            id="stable margin raised",
        ),
        pytest.param(
            "max by (model_version) (car_evaluation_ledger_labelled)\n",
            "sum by (model_version) (car_evaluation_ledger_labelled)\n",
            id="labels summed over replicas",
        ),
        pytest.param(
            "car_evaluation:ledger_labelled >= 200\n          )",
            "car_evaluation:ledger_labelled >= 10\n          )",
            id="stable label minimum lowered",
        ),
        pytest.param(
            "car_evaluation:ledger_labelled >= 200\n            and on (model_version)\n          group by",
            "car_evaluation:ledger_labelled >= 10\n            and on (model_version)\n          group by",
            id="estimate label minimum lowered",
        ),
        pytest.param(
            "group by (model_version) (car_evaluation:served_version)",
            "group by (model_version) (car_evaluation:ledger_labelled)",
            id="versions nobody serves alert",
        ),
        pytest.param(
            'car_evaluation:served_version{track="stable"}',
            'car_evaluation:served_version{track="canary"}',
            id="stable taken from the canary",
        ),
    ],
)
def test_rule_unit_tests_catch_a_broken_rule(promtool: str, tmp_path: Path, original: str, broken: str) -> None:
    rules = (PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8")
    assert rules.count(original) == 1, f"{original!r} is no longer in rules.yml once: update this test"
    (tmp_path / "rules.yml").write_text(rules.replace(original, broken), encoding="utf-8")
    shutil.copy(PROMETHEUS_DIR / "rules.test.yml", tmp_path)
    # The broken copy is still valid: what catches it must be the unit tests.
    assert_succeeds(promtool_output(promtool, "check", "rules", "rules.yml", cwd=tmp_path))

    result = promtool_output(promtool, "test", "rules", "rules.test.yml", cwd=tmp_path)

    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
