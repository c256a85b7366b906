"""Predict car acceptability with the trained pipeline shipped in this package."""

from __future__ import annotations

from functools import lru_cache
from typing import TypedDict

from sklearn.pipeline import Pipeline

from car_evaluation_model import __version__ as _version
from car_evaluation_model.config.core import config
from car_evaluation_model.processing.data_manager import load_pipeline
from car_evaluation_model.processing.validation import InputData, RowError, validate_inputs


class PredictionResult(TypedDict):
    """What ``make_prediction`` returns.

    Either every row is valid and ``predictions``/``probabilities`` hold one entry per input
    row (in input order) with ``errors`` None, or ``errors`` lists every problem and no
    prediction is made at all: a batch is never half-answered.
    """

    predictions: list[str] | None  # class labels: unacc, acc, good, vgood
    probabilities: list[dict[str, float]] | None  # per row, class label -> probability
    version: str  # the model package version
    errors: list[RowError] | None


@lru_cache(maxsize=1)
def trained_pipeline() -> Pipeline:
    """The shipped pipeline, loaded on first use and kept for the life of the process."""
    return load_pipeline()


def warm_up() -> None:
    """Load the model now instead of on the first prediction; raises ``ModelArtifactError``."""
    trained_pipeline()


def make_prediction(*, input_data: InputData) -> PredictionResult:
    """Predict the class of each row of a DataFrame, a list of dicts or a single dict."""
    rows, errors = validate_inputs(input_data=input_data)
    if errors:
        return PredictionResult(predictions=None, probabilities=None, version=_version, errors=errors)
    pipeline = trained_pipeline()
    probabilities = pipeline.predict_proba(rows)
    column_of = {label: column for column, label in enumerate(pipeline.classes_)}
    labelled = [{label: float(row[column_of[label]]) for label in config.model.classes} for row in probabilities]
    predictions = [str(label) for label in pipeline.classes_[probabilities.argmax(axis=1)]]
    return PredictionResult(predictions=predictions, probabilities=labelled, version=_version, errors=None)
