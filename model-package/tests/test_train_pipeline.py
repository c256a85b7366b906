from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.base

from car_evaluation_model import __version__, train_pipeline
from car_evaluation_model.pipeline import build_pipeline
from car_evaluation_model.processing.data_manager import (
    ModelArtifactError,
    load_pipeline,
    model_card_path,
    pipeline_path,
    save_pipeline,
)
from car_evaluation_model.train_pipeline import run_training, summary


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    model_dir = tmp_path_factory.mktemp("trained_models")
    (model_dir / "car_evaluation_model_v0.0.1.pkl").write_bytes(b"stale")
    card = run_training(model_dir=model_dir)
    return model_dir, card


def test_training_writes_versioned_artifact_and_card_and_removes_old(trained: tuple[Path, dict[str, object]]) -> None:
    model_dir, card = trained
    assert sorted(p.name for p in model_dir.iterdir()) == [
        f"car_evaluation_model_v{__version__}.json",
        f"car_evaluation_model_v{__version__}.pkl",
    ]
    assert json.loads(model_card_path(model_dir=model_dir).read_text()) == card


def test_model_card_records_provenance_and_metrics(trained: tuple[Path, dict[str, object]]) -> None:
    _, card = trained
    assert card["version"] == __version__
    data = card["data"]
    assert isinstance(data, dict)
    assert data["rows"] == 1728
    assert data["sha256"] == "0023b86e0dd3502aaa0e4a610ef4d8aebbba7ff40f53fa7c2f0543c68bee5114"
    libraries = card["libraries"]
    assert isinstance(libraries, dict)
    assert libraries["scikit-learn"] == sklearn.__version__
    holdout = card["holdout"]
    assert isinstance(holdout, dict)
    assert set(holdout["per_class"]) == {"unacc", "acc", "good", "vgood"}
    matrix = np.array(holdout["confusion_matrix"]["matrix"])
    assert matrix.sum() == holdout["rows"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(holdout["accuracy"])
    assert "5-fold CV" in summary(card)


def test_training_is_reproducible_and_matches_the_shipped_model(
    trained: tuple[Path, dict[str, object]], features: pd.DataFrame
) -> None:
    """Retraining gives the shipped artifact's predictions on all 1728 inputs (it is not stale)."""
    model_dir, _ = trained
    retrained = load_pipeline(pipeline_path(model_dir=model_dir))
    shipped = load_pipeline()
    np.testing.assert_array_equal(retrained.predict(features), shipped.predict(features))
    np.testing.assert_array_equal(retrained.predict_proba(features), shipped.predict_proba(features))


def test_model_from_another_sklearn_version_is_refused(
    tmp_path: Path, features: pd.DataFrame, dataset: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = build_pipeline().fit(features, dataset["class"])
    with monkeypatch.context() as patched:
        patched.setattr(sklearn.base, "__version__", "1.2.0")
        save_pipeline(pipeline=pipeline, model_card={}, model_dir=tmp_path)
    with pytest.raises(ModelArtifactError, match=r"trained with scikit-learn 1\.2\.0 but scikit-learn"):
        load_pipeline(pipeline_path(model_dir=tmp_path))


def test_missing_artifact_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError, match="no trained model"):
        load_pipeline(tmp_path / "missing.pkl")


def test_retraining_the_same_model_elsewhere_rewrites_nothing(
    trained: tuple[Path, dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir, card = trained
    before = {path.name: path.read_bytes() for path in model_dir.iterdir()}
    # Another day, another supported Python and numpy: the same model.
    monkeypatch.setattr(platform, "python_version", lambda: "3.13.0")
    monkeypatch.setattr(train_pipeline, "installed_version", lambda name: "9.9.9")
    assert run_training(model_dir=model_dir) == card
    assert {path.name: path.read_bytes() for path in model_dir.iterdir()} == before


def test_a_changed_model_gets_a_new_card(trained: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    model_dir, card = trained
    for path in model_dir.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    pipeline_path(model_dir=tmp_path).write_bytes(b"another model")
    assert (
        train_pipeline.card_of_the_same_model(
            load_pipeline(pipeline_path(model_dir=model_dir)), card, model_dir=tmp_path
        )
        is None
    )
