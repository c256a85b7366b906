"""Predict car acceptability with the trained pipeline shipped in this package."""

from __future__ import annotations

from functools import cache
from typing import TypedDict

from car_evaluation_model.config.core import config
from car_evaluation_model.prediction_table import Predictor, compile_predictor
from car_evaluation_model.processing.data_manager import load_pipeline
from car_evaluation_model.processing.validation import InputData, RowError
from car_evaluation_model.version import __version__ as _version


class PredictionResult(TypedDict):
    """What ``make_prediction`` returns.

    Either every row is valid and ``predictions``/``probabilities`` hold one entry per input
    row (in input order) with ``errors`` None, or ``errors`` lists the problems and no
    prediction is made at all: a batch is never half-answered.
    """

    predictions: list[str] | None  # class labels: unacc, acc, good, vgood
    probabilities: list[dict[str, float]] | None  # per row, class label -> probability
    version: str  # the model package version
    errors: list[RowError] | None


@cache
def trained_predictor() -> Predictor:
    """The shipped model, loaded and compiled on first use, kept for the life of the process."""
    return compile_predictor(load_pipeline(), config.model)


def warm_up() -> None:
    """Load the model now instead of on the first prediction; raises ``ModelArtifactError``."""
    trained_predictor()


def make_prediction(*, input_data: InputData) -> PredictionResult:
    """Predict the class of each row of a DataFrame, a list of dicts or a single dict."""
    answer = trained_predictor().predict(input_data)
    if isinstance(answer, list):
        return PredictionResult(predictions=None, probabilities=None, version=_version, errors=answer)
    return PredictionResult(
        predictions=answer.labels, probabilities=answer.probabilities, version=_version, errors=None
    )
