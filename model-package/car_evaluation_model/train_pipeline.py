"""Train, evaluate and save the pipeline with its model card.

Run with ``python -m car_evaluation_model.train_pipeline``. Seeds are fixed, so the same
code and data give the same model and the same predictions.
"""

from __future__ import annotations

import json
import platform
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import TRAINED_MODEL_DIR, Config, config
from car_evaluation_model.pipeline import build_pipeline
from car_evaluation_model.processing.data_manager import (
    dataset_path,
    dump_pipeline,
    file_sha256,
    load_dataset,
    model_card_path,
    pipeline_path,
    save_pipeline,
)
from car_evaluation_model.version import __version__ as _version

LIBRARIES = ("scikit-learn", "feature-engine", "pandas", "numpy", "joblib")


def cross_validation_scores(X: pd.DataFrame, y: pd.Series, cfg: Config = config) -> dict[str, float]:
    """Stratified, shuffled k-fold CV of a fresh pipeline: mean accuracy and macro-F1."""
    folds = StratifiedKFold(n_splits=cfg.model.cv_folds, shuffle=True, random_state=cfg.model.random_state)
    scores = cross_validate(build_pipeline(cfg.model), X, y, cv=folds, scoring=("accuracy", "f1_macro"))
    return {
        "folds": cfg.model.cv_folds,
        "accuracy": float(np.mean(scores["test_accuracy"])),
        "accuracy_std": float(np.std(scores["test_accuracy"])),
        "f1_macro": float(np.mean(scores["test_f1_macro"])),
        "f1_macro_std": float(np.std(scores["test_f1_macro"])),
    }


def holdout_scores(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, classes: list[str]) -> dict[str, Any]:
    predicted = pipeline.predict(X)
    precision, recall, _, support = precision_recall_fscore_support(y, predicted, labels=classes, zero_division=0)
    return {
        "rows": len(y),
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, labels=classes, average="macro")),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "support": int(s)}
            for label, p, r, s in zip(classes, precision, recall, support, strict=True)
        },
        "confusion_matrix": {
            "labels": classes,
            "matrix": confusion_matrix(y, predicted, labels=classes).tolist(),
        },
    }


def run_training(cfg: Config = config, model_dir: Path = TRAINED_MODEL_DIR) -> dict[str, Any]:
    """Cross-validate, evaluate on a stratified hold-out, fit on all data and save.

    The saved model is refitted on all 1728 rows (the data set is the whole input domain);
    the hold-out and CV figures describe how well this pipeline generalises.
    Returns the model card that was saved next to the model.
    """
    data = load_dataset(cfg)
    X, y = data[cfg.model.feature_names], data[cfg.model.target]
    classes = list(cfg.model.classes)

    cv = cross_validation_scores(X, y, cfg)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=cfg.model.test_size, stratify=y, random_state=cfg.model.random_state
    )
    holdout = holdout_scores(build_pipeline(cfg.model).fit(X_train, y_train), X_test, y_test, classes)

    pipeline = build_pipeline(cfg.model).fit(X, y)
    model_card = {
        "name": cfg.files.package_name,
        "version": _version,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "estimator": type(pipeline[-1]).__name__,
        "hyperparameters": cfg.model.hyperparameters.model_dump(),
        "data": {
            "file": cfg.files.training_data_file,
            "sha256": file_sha256(dataset_path(cfg)),
            "rows": len(data),
            "class_counts": {label: int((y == label).sum()) for label in classes},
            "source": "UCI Machine Learning Repository, Car Evaluation (Bohanec, 1988), CC BY 4.0, "
            "https://doi.org/10.24432/C5JP48",
        },
        "features": {feature.name: list(feature.values) for feature in cfg.model.features},
        "classes": classes,
        "random_state": cfg.model.random_state,
        "cross_validation": cv,
        "holdout": {"test_size": cfg.model.test_size, **holdout},
        "python": platform.python_version(),
        "libraries": {name: installed_version(name) for name in LIBRARIES},
    }
    saved_card = card_of_the_same_model(pipeline, model_card, cfg, model_dir)
    if saved_card is not None:
        return saved_card  # the saved artifacts are this very model: nothing to write
    save_pipeline(pipeline=pipeline, model_card=model_card, model_dir=model_dir, cfg=cfg)
    return model_card


# What a card says of where a model was trained, rather than of the model.
TRAINING_ENVIRONMENT = ("trained_at", "python", "libraries")


def card_of_the_same_model(
    pipeline: Pipeline, model_card: dict[str, Any], cfg: Config = config, model_dir: Path = TRAINED_MODEL_DIR
) -> dict[str, Any] | None:
    """The saved card, when the saved pipeline is byte for byte ``pipeline`` and the cards differ
    only in where they were trained; else None.

    Training is deterministic: retraining the same code on the same data, on another day or
    another supported Python, gives the same model, and leaves the committed artifacts (and
    ``git status``) as they were, the card still naming the environment that first made it.
    """
    saved_pipeline, saved_card = pipeline_path(cfg, model_dir=model_dir), model_card_path(cfg, model_dir=model_dir)
    if not (saved_pipeline.is_file() and saved_card.is_file()):
        return None
    with tempfile.TemporaryDirectory() as scratch:
        retrained = Path(scratch) / saved_pipeline.name
        dump_pipeline(pipeline, retrained)
        same_model = file_sha256(retrained) == file_sha256(saved_pipeline)
    card: dict[str, Any] = json.loads(saved_card.read_text(encoding="utf-8"))
    environment_free = {key: value for key, value in model_card.items() if key not in TRAINING_ENVIRONMENT}
    same_card = {key: value for key, value in card.items() if key not in TRAINING_ENVIRONMENT} == environment_free
    return card if same_model and same_card else None


def summary(model_card: dict[str, Any]) -> str:
    cv, holdout = model_card["cross_validation"], model_card["holdout"]
    matrix = holdout["confusion_matrix"]
    lines = [
        f"{model_card['name']} {model_card['version']} ({model_card['estimator']}), "
        f"data sha256 {model_card['data']['sha256'][:12]}..., {model_card['data']['rows']} rows",
        f"  {cv['folds']}-fold CV   accuracy {cv['accuracy']:.4f} ± {cv['accuracy_std']:.4f}   "
        f"macro-F1 {cv['f1_macro']:.4f} ± {cv['f1_macro_std']:.4f}",
        f"  hold-out ({holdout['rows']} rows)   accuracy {holdout['accuracy']:.4f}   "
        f"macro-F1 {holdout['f1_macro']:.4f}",
        "  class     precision  recall  support",
    ]
    for label, scores in holdout["per_class"].items():
        lines.append(f"  {label:<8}  {scores['precision']:9.3f}  {scores['recall']:6.3f}  {scores['support']:7d}")
    lines.append("  confusion matrix (rows: true, columns: predicted) " + " ".join(matrix["labels"]))
    lines.extend(
        f"  {label:<8}  " + " ".join(f"{n:5d}" for n in row)
        for label, row in zip(matrix["labels"], matrix["matrix"], strict=True)
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(run_training()))
