"""End to end: a candidate that differs on purpose, its diff against the pinned model, the gate, a canary.

A private pypiserver holds the pinned version (the wheel model-package/ builds). A candidate is
model-package/ with fewer boosting iterations and a new version, trained for real. The diff
installs the pinned version from the index as the deploy does (requirements.txt's hash) and
the candidate from its directory, each in a process of its own; ``release.publish`` refuses it
until the diff is approved, refuses another diff and a worse model, then publishes it. Then
stable and candidate replicas run behind nginx with the shipped canary config, scraped by a real
Prometheus with the shipped rules; and rolling back (the previous pin) still installs.

Needs the package registry (PyPI) once, for the deploy's libraries.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from car_evaluation_model import __version__ as pinned_version
from car_evaluation_model.config.core import config
from car_evaluation_model.prediction_table import PredictionTable
from car_evaluation_model.processing.data_manager import load_pipeline, pipeline_path
from devtools import REPO_ROOT
from devtools.nginx import NGINX, running_nginx
from devtools.procfile import web_process
from devtools.programs import require_program
from devtools.prometheus import RunningPrometheus, running_prometheus
from devtools.service import RunningServer, running_server
from release.build import MODEL_PACKAGE
from release.environment import isolated_pip_env
from release.index import Index
from release.publish import CHANGES_KEY, ensure_trained, model_card_of
from release.sides import PINNED, Side, ask, install_side, split_requirements
from tests.conftest import API
from tests.release.conftest import USER, twine_env

pytestmark = pytest.mark.e2e

# The release after the pinned one (model-package/ holds the pinned version: test_private_index).
PINNED_MAJOR, PINNED_MINOR = map(int, pinned_version.split(".")[:2])
CANDIDATE_VERSION = f"{PINNED_MAJOR}.{PINNED_MINOR + 1}.0"
# Fewer boosting iterations than config.yml's 100: a handful of cars change class, and accuracy
# and macro-F1 on the data set stay within the gate's margin (0.01).
CANDIDATE_MAX_ITER = 20
OTHER_MAX_ITER = 25  # a retrain that changes other cars
WORSE_MAX_ITER = 5  # loses more than the margin


def make_candidate(directory: Path, version: str, max_iter: int) -> Path:
    """model-package/ with ``max_iter`` boosting iterations and ``version``, trained."""
    shutil.copytree(MODEL_PACKAGE, directory, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    package = directory / "car_evaluation_model"
    for artifact in (package / "trained_models").iterdir():
        artifact.unlink()
    settings = package / "config.yml"
    text = settings.read_text(encoding="utf-8")
    assert text.count("max_iter: 100\n") == 1, "config.yml changed: update this test"
    settings.write_text(text.replace("max_iter: 100\n", f"max_iter: {max_iter}\n"), encoding="utf-8")
    (package / "VERSION").write_text(f"{version}\n", encoding="utf-8")
    ensure_trained(directory)
    return directory


@pytest.fixture(scope="module")
def environments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of the deploy's libraries for every diff of the module."""
    return tmp_path_factory.mktemp("environments")


@pytest.fixture(scope="module")
def release_env(private_index: Index, password: str) -> dict[str, str]:
    """As configured for a release: the private index to install from and to upload to."""
    return {
        **twine_env(private_index, USER, password),
        "PIP_EXTRA_INDEX_URL": private_index.simple_url_with(USER, password),
    }


@pytest.fixture(scope="module")
def candidate(workdir: Path) -> Path:
    return make_candidate(workdir / "candidate", CANDIDATE_VERSION, CANDIDATE_MAX_ITER)


def run(module: str, *args: str, env: dict[str, str], password: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert password not in result.stdout + result.stderr
    return result


def diff(
    candidate: Path, out: Path, environments: Path, env: dict[str, str], password: str, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = run(
        "release.diff", "--candidate", str(candidate), "--out", str(out), "--cache", str(environments), *extra,
        env=env, password=password,
    )  # fmt: skip
    report = json.loads((out / "model-diff.json").read_text()) if result.returncode in (0, 1) else {}
    return result, report


def publish(
    package: Path, out: Path, environments: Path, env: dict[str, str], password: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run(
        "release.publish", "--package", str(package), "--out", str(out), "--cache", str(environments), *extra,
        env=env, password=password,
    )  # fmt: skip


def table_flips(candidate: Path) -> list[dict[str, Any]]:
    """The flipped cars found without release.diff: the two prediction tables side by side."""
    pinned = PredictionTable.from_pipeline(load_pipeline(), config.model)
    other = PredictionTable.from_pipeline(
        load_pipeline(
            pipeline_path(version=CANDIDATE_VERSION, model_dir=candidate / "car_evaluation_model" / "trained_models")
        ),
        config.model,
    )
    cars = pinned.domain.frame().astype(str).to_dict(orient="records")
    return [
        {"car": car, "baseline": before, "candidate": after}
        for car, before, after in zip(cars, pinned.labels, other.labels, strict=True)
        if before != after
    ]


def test_the_installed_model_is_the_pinned_one() -> None:
    _, entry = split_requirements(REPO_ROOT / "requirements.txt")
    assert entry.startswith(f"car-evaluation-model=={pinned_version} ")


@pytest.fixture(scope="module")
def pinned_diff(
    candidate: Path, workdir: Path, environments: Path, release_env: dict[str, str], password: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    return diff(candidate, workdir / "reports", environments, release_env, password)


def test_the_diff_lists_the_cars_whose_answers_differ(
    pinned_diff: tuple[subprocess.CompletedProcess[str], dict[str, Any]], candidate: Path
) -> None:
    result, report = pinned_diff
    print(f"\n{result.stdout}")
    # Flips found: the diff did its job, and tox -e diff says so as a success.
    assert result.returncode == 0, result.stdout + result.stderr
    expected = table_flips(candidate)
    assert expected, "the candidate was meant to change some answers"
    assert report["flips"] == len(expected)
    assert report["flipped"] == expected
    assert (report["baseline_version"], report["candidate_version"]) == (pinned_version, CANDIDATE_VERSION)
    assert report["metrics"]["baseline"]["accuracy"] == 1.0
    assert 0.99 < report["metrics"]["candidate"]["accuracy"] < 1.0


def test_a_wheel_is_a_side_too(
    pinned_diff: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
    genuine: Path,
    candidate: Path,
    *,
    workdir: Path,
    environments: Path,
    release_env: dict[str, str],
    password: str,
) -> None:
    """The wheel that was published as the pinned version diffs exactly as the pinned install does."""
    out = workdir / "wheel-reports"
    result, report = diff(
        candidate, out, environments, release_env, password, "--baseline", str(genuine), "--exit-code"
    )
    assert result.returncode == 1, result.stdout + result.stderr  # --exit-code: 1 when something flips
    assert report == pinned_diff[1]


def test_an_identical_candidate_has_no_flip_and_passes_without_approval(
    workdir: Path, environments: Path, release_env: dict[str, str], password: str
) -> None:
    """model-package/ itself, whose training is reproducible: the pinned model's retrain."""
    gate = publish(MODEL_PACKAGE, workdir / "identical", environments, release_env, password, "--check")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert f"the gate accepts {pinned_version}\n" in gate.stdout
    report = json.loads((workdir / "identical" / "model-diff.json").read_text())
    assert (report["flips"], report["max_probability_change"]) == (0, 0)
    assert not (MODEL_PACKAGE / "approvals").exists()


@pytest.fixture(scope="module")
def published(
    candidate: Path,
    workdir: Path,
    environments: Path,
    release_env: dict[str, str],
    password: str,
    *,
    private_index: Index,
) -> Path:
    """The candidate through the gate: refused, approved, then published to the private index."""
    out = workdir / "publish"
    refused = publish(candidate, out, environments, release_env, password)
    assert refused.returncode != 0
    assert "and no approval" in refused.stderr, refused.stderr
    assert "python -m release.diff --approve" in refused.stderr
    assert not list(private_index.packages.glob(f"*{CANDIDATE_VERSION}*"))

    approved, _ = diff(candidate, out, environments, release_env, password, "--approve")
    assert approved.returncode == 0
    approval = candidate / "approvals" / f"{CANDIDATE_VERSION}.json"
    assert approval.is_file(), approved.stdout

    # A retrain that changes other cars is not covered by that approval.
    other = make_candidate(workdir / "other", CANDIDATE_VERSION, OTHER_MAX_ITER)
    shutil.copytree(candidate / "approvals", other / "approvals")
    refused_again = publish(other, out, environments, release_env, password, "--check")
    assert refused_again.returncode != 0
    assert "is for another diff" in refused_again.stderr, refused_again.stderr

    # A model worse by more than the margin is refused, and told that no approval would do.
    worse = make_candidate(workdir / "worse", CANDIDATE_VERSION, WORSE_MAX_ITER)
    refused_worse = publish(worse, out, environments, release_env, password, "--check")
    assert refused_worse.returncode != 0
    assert "no approval overrides this" in refused_worse.stderr, refused_worse.stderr

    accepted = publish(candidate, out, environments, release_env, password)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    print(f"\n{refused.stderr}\n{accepted.stdout}")
    return candidate


def test_publish_refuses_until_approved_then_uploads(published: Path, private_index: Index) -> None:
    uploaded = sorted(path.name for path in private_index.packages.glob(f"*{CANDIDATE_VERSION}*"))
    assert uploaded == [
        f"car_evaluation_model-{CANDIDATE_VERSION}-py3-none-any.whl",
        f"car_evaluation_model-{CANDIDATE_VERSION}.tar.gz",
    ]
    card = json.loads(model_card_of(published).read_text())
    changes = card[CHANGES_KEY]
    assert changes["previous_version"] == pinned_version
    assert changes["flips"] == len(table_flips(published))
    assert (
        changes["digest"] == json.loads((published / "approvals" / f"{CANDIDATE_VERSION}.json").read_text())["digest"]
    )


def test_the_published_candidate_installs_from_the_index_with_its_card(
    published: Path, workdir: Path, release_env: dict[str, str], password: str
) -> None:
    """What was uploaded is what passed the gate: its model card carries the diff."""
    out = workdir / "downloaded"
    download = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-d",
            str(out),
            f"car-evaluation-model=={CANDIDATE_VERSION}",
        ],
        env=isolated_pip_env(PIP_INDEX_URL=release_env["PIP_EXTRA_INDEX_URL"]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert download.returncode == 0, download.stdout + download.stderr
    [wheel] = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [card_name] = [name for name in archive.namelist() if name.endswith(f"_v{CANDIDATE_VERSION}.json")]
        card = json.loads(archive.read(card_name))
    assert card == json.loads(model_card_of(published).read_text())


# Requests through nginx, one car each. With the candidate's weight at 10 of 100 its share of
# 1000 answers has a standard deviation of 0.0095; 4.5 of them either side is a false alarm once
# in about 150,000 runs.
CANARY_REQUESTS = 1000
CANARY_SHARE = 0.10
BINOMIAL_BOUND = 4.5 * math.sqrt(CANARY_SHARE * (1 - CANARY_SHARE) / CANARY_REQUESTS)


@pytest.fixture
def sides(
    published: Path, workdir: Path, environments: Path, release_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[Side, Side]:
    """Stable: the pinned version; candidate: the version just published, both from the private index."""
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", release_env["PIP_EXTRA_INDEX_URL"])
    work = workdir / "canary-sides"
    work.mkdir(exist_ok=True)
    return install_side(PINNED, work, environments), install_side(CANDIDATE_VERSION, work, environments)


def replica(stack: ExitStack, side: Side, log: Path) -> RunningServer:
    """The Procfile's command on the deploy's libraries with ``side``'s model, one worker."""
    command, env = web_process(side.python.parent)
    env.update(PYTHONPATH=str(side.model_dir), WEB_CONCURRENCY="1")
    return stack.enter_context(running_server(log, command=command, env=env))


def predict(base_url: str, car: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base_url}{API}/predict",
        data=json.dumps({"inputs": [car]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def class_mix_distance(answers: list[dict[str, Any]], stable: str, candidate: str) -> float:
    """0.5 * sum over classes of |candidate share - stable share|, from the answers clients saw."""
    counts = {
        version: Counter(a["predictions"][0] for a in answers if a["version"] == version)
        for version in (stable, candidate)
    }
    totals = {version: sum(count.values()) for version, count in counts.items()}
    return 0.5 * sum(
        abs(counts[candidate][label] / totals[candidate] - counts[stable][label] / totals[stable])
        for label in config.model.classes
    )


def settled(prometheus: RunningPrometheus, expr: str, expected: float, timeout: float = 30) -> float:
    """``expr``'s single value once it reaches ``expected`` (scrapes and rule runs lag), or its last one."""
    deadline = time.monotonic() + timeout
    value = math.nan
    while time.monotonic() < deadline:
        samples = prometheus.query(expr)
        value = samples[0].value if len(samples) == 1 else math.nan
        if math.isclose(value, expected, abs_tol=1e-9):
            break
        time.sleep(0.25)
    return value


def test_a_canary_behind_nginx_gets_its_weight_and_prometheus_compares_it(
    published: Path, sides: tuple[Side, Side], workdir: Path
) -> None:
    require_program(NGINX, "nginx-light")
    prometheus_binary = require_program("prometheus", "prometheus")
    stable_side, candidate_side = sides
    logs = workdir / "canary"
    (logs / "prometheus").mkdir(parents=True)
    rng = random.Random(21)
    cars = [
        dict(zip(config.model.allowed_values, values, strict=True))
        for values in itertools.product(*config.model.allowed_values.values())
    ]
    with ExitStack() as stack:
        stable = replica(stack, stable_side, logs / "stable.log")
        candidate = replica(stack, candidate_side, logs / "candidate.log")
        ports = [int(server.base_url.rsplit(":", 1)[1]) for server in (stable, candidate)]
        nginx = stack.enter_context(running_nginx(logs / "nginx", ports, f"{API}/health", canary=True))
        prometheus = stack.enter_context(
            running_prometheus(
                [server.base_url.removeprefix("http://") for server in (stable, candidate)],
                logs / "prometheus",
                binary=prometheus_binary,
                target_labels=[{"track": "stable"}, {"track": "canary"}],
            )
        )
        # Both tracks scraped with every class at 0 before any answer: the rates then cover all of them.
        prometheus.wait_for('count(car_evaluation_predictions_total{track="canary"}) == 4')
        prometheus.wait_for('count(car_evaluation_predictions_total{track="stable"}) == 4')

        answers = [predict(nginx.base_url, rng.choice(cars)) for _ in range(CANARY_REQUESTS)]

        versions = Counter(answer["version"] for answer in answers)
        expected_distance = class_mix_distance(answers, pinned_version, CANDIDATE_VERSION)
        counted = {
            version: settled(prometheus, f'sum(car_evaluation_predictions_total{{model_version="{version}"}})', count)
            for version, count in versions.items()
        }
        distance = settled(prometheus, "car_evaluation:canary_class_mix_tvd:30m", expected_distance)
        metadata = json.load(urllib.request.urlopen(f"{candidate.base_url}/v2/models/car-evaluation", timeout=10))
        page = urllib.request.urlopen(f"{candidate.base_url}/", timeout=10).read().decode()
        stable_metadata = json.load(urllib.request.urlopen(f"{stable.base_url}/v2/models/car-evaluation", timeout=10))

    share = versions[CANDIDATE_VERSION] / CANARY_REQUESTS
    print(
        f"\ncanary: {versions[CANDIDATE_VERSION]} of {CANARY_REQUESTS} answers from {CANDIDATE_VERSION} ({share:.1%}, "
        f"bounds {CANARY_SHARE - BINOMIAL_BOUND:.3f}-{CANARY_SHARE + BINOMIAL_BOUND:.3f}); "
        f"Prometheus counts {counted}; "
        f"class mix distance {distance:.6f} (from the answers {expected_distance:.6f})"
    )
    assert set(versions) == {pinned_version, CANDIDATE_VERSION}
    assert abs(share - CANARY_SHARE) <= BINOMIAL_BOUND
    assert counted == dict(versions)
    assert distance == pytest.approx(expected_distance, abs=1e-9)
    changes = metadata["parameters"]["changes_from_previous"]
    assert changes == json.loads(model_card_of(published).read_text())[CHANGES_KEY]
    assert (changes["previous_version"], changes["flips"]) == (pinned_version, len(table_flips(published)))
    assert f"{changes['flips']} of 1728 cars change class" in page
    assert stable_metadata["parameters"] == {}


def test_rolling_back_installs_the_previous_version_by_its_hash(
    published: Path, workdir: Path, environments: Path, release_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rollback is pinning the previous version again: with a newer one on the index, the hash-locked
    install still gets the genuine previous wheel."""
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", release_env["PIP_EXTRA_INDEX_URL"])
    fresh_cache = workdir / "rollback-cache"
    fresh_cache.mkdir()
    # The libraries are the cached ones; the pinned model is installed anew into an empty cache.
    for libraries in environments.glob("libraries-*"):
        (fresh_cache / libraries.name).symlink_to(libraries)
    (workdir / "rollback").mkdir()
    side = install_side(PINNED, workdir / "rollback", fresh_cache)
    answers = ask(side)
    assert answers["version"] == pinned_version
    assert answers["model_card"] == json.loads(model_card_of(MODEL_PACKAGE).read_text())
