"""Read the data set; save and load the trained pipeline and its model card.

Artifacts are named after the package version (``car_evaluation_model_v<VERSION>.pkl`` and
``.json``); saving a new version removes the older ones. Loading never writes anything, so an
installed (possibly read-only) package is only ever read at prediction time.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import DATASET_DIR, TRAINED_MODEL_DIR, Config, config
from car_evaluation_model.version import __version__ as _version


class ModelArtifactError(RuntimeError):
    """The trained pipeline is missing or cannot be used with the installed libraries."""


def dataset_path(cfg: Config = config) -> Path:
    return DATASET_DIR / cfg.files.training_data_file


def load_dataset(cfg: Config = config) -> pd.DataFrame:
    """The data set with every column as strings, in the config's column order."""
    columns = [*cfg.model.feature_names, cfg.model.target]
    return pd.read_csv(dataset_path(cfg), dtype=str, usecols=columns)[columns]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifact_stem(cfg: Config = config, version: str = _version) -> str:
    return f"{cfg.files.pipeline_save_file}{version}"


def pipeline_path(cfg: Config = config, version: str = _version, model_dir: Path = TRAINED_MODEL_DIR) -> Path:
    return model_dir / f"{artifact_stem(cfg, version)}.pkl"


def model_card_path(cfg: Config = config, version: str = _version, model_dir: Path = TRAINED_MODEL_DIR) -> Path:
    return model_dir / f"{artifact_stem(cfg, version)}.json"


def remove_old_artifacts(*, keep: list[Path], model_dir: Path = TRAINED_MODEL_DIR, cfg: Config = config) -> None:
    """Delete artifacts of other versions so the package ships exactly one model."""
    for path in model_dir.glob(f"{cfg.files.pipeline_save_file}*"):
        if path not in keep:
            path.unlink()


def dump_pipeline(pipeline: Pipeline, path: Path) -> None:
    joblib.dump(pipeline, path, compress=3)


def save_pipeline(
    *, pipeline: Pipeline, model_card: dict[str, Any], model_dir: Path = TRAINED_MODEL_DIR, cfg: Config = config
) -> Path:
    """Persist the fitted pipeline and its model card; remove older versions' artifacts."""
    model_dir.mkdir(parents=True, exist_ok=True)
    save_path = pipeline_path(cfg, model_dir=model_dir)
    card_path = model_card_path(cfg, model_dir=model_dir)
    dump_pipeline(pipeline, save_path)
    card_path.write_text(json.dumps(model_card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    remove_old_artifacts(keep=[save_path, card_path], model_dir=model_dir, cfg=cfg)
    return save_path


def load_pipeline(path: Path | None = None) -> Pipeline:
    """Load the fitted pipeline, refusing one pickled by another scikit-learn version.

    scikit-learn only warns on a version mismatch and may then predict garbage; a service
    must fail loudly at start-up instead.
    """
    path = path or pipeline_path()
    if not path.is_file():
        raise ModelArtifactError(
            f"no trained model at {path}; train it with `python -m car_evaluation_model.train_pipeline`"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            pipeline = joblib.load(path)
        except InconsistentVersionWarning as mismatch:
            raise ModelArtifactError(
                f"{path.name} was trained with scikit-learn {mismatch.original_sklearn_version} "
                f"but scikit-learn {mismatch.current_sklearn_version} is installed; install "
                f"scikit-learn=={mismatch.original_sklearn_version} or retrain the model"
            ) from None
    if not isinstance(pipeline, Pipeline):
        raise ModelArtifactError(f"{path.name} does not hold a scikit-learn Pipeline")
    return pipeline


def load_model_card(path: Path | None = None) -> dict[str, Any]:
    """The metrics and provenance recorded when the shipped model was trained."""
    path = path or model_card_path()
    if not path.is_file():
        raise ModelArtifactError(f"no model card at {path}")
    card: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return card
