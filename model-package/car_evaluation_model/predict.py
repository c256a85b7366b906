"""Predict car acceptability with the trained pipeline shipped in this package."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TypedDict

import pandas as pd

from car_evaluation_model import __version__ as _version
from car_evaluation_model.config.core import config
from car_evaluation_model.predictor import Predictor, compile_predictor
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
def trained_predictor() -> Predictor:
    """The shipped model, loaded and compiled on first use, kept for the life of the process."""
    return compile_predictor(load_pipeline(), config.model)


def warm_up() -> None:
    """Load the model now instead of on the first prediction; raises ``ModelArtifactError``."""
    trained_predictor()


def make_prediction(*, input_data: InputData) -> PredictionResult:
    """Predict the class of each row of a DataFrame, a list of dicts or a single dict."""
    predictor = trained_predictor()
    if isinstance(input_data, pd.DataFrame):
        answer = predictor.predict_frame(input_data)
    else:
        answer = predictor.predict_rows([input_data] if isinstance(input_data, Mapping) else input_data)
    if answer is None:
        # Only invalid input gets here (or any input, for a model too large for a table).
        _, errors = validate_inputs(input_data=input_data)
        if errors:
            return PredictionResult(predictions=None, probabilities=None, version=_version, errors=errors)
        raise AssertionError("the predictor refused input that validation accepts")
    predictions, probabilities = answer
    return PredictionResult(predictions=predictions, probabilities=probabilities, version=_version, errors=None)
