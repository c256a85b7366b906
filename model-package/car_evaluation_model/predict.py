"""Predict and explain car acceptability with the trained pipeline shipped in this package.

The pipeline is loaded once, on first use or by ``warm_up``, and kept for the life of the
process, compiled to a prediction table and fitted into an explainer.
"""

from __future__ import annotations

from functools import cache
from typing import NotRequired, TypedDict

import pandas as pd
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import config
from car_evaluation_model.domain import InvalidRowsError
from car_evaluation_model.explanation import ExplanationResult, ShapleyExplainer
from car_evaluation_model.input_rows import InputRows
from car_evaluation_model.prediction_table import PredictionTable, Probabilities
from car_evaluation_model.processing.data_manager import load_dataset, load_pipeline
from car_evaluation_model.processing.validation import InputData, RowError
from car_evaluation_model.version import __version__ as _version


class PredictionResult(TypedDict):
    """What ``make_prediction`` returns.

    Either every row is valid and ``predictions``/``probabilities`` hold one entry per input
    row (in input order) with ``errors`` None, or ``errors`` lists the problems and no
    prediction is made at all: a batch is never half-answered.
    """

    predictions: list[str] | None  # class labels: unacc, acc, good, vgood
    probabilities: list[Probabilities] | None  # per row, class label -> probability (read-only dicts)
    version: str  # the model package version
    errors: list[RowError] | None
    # With keep_rows=True and valid input: the rows, whose values monitoring counts
    # (``InputRows.counted``, or ``count_values`` over many predictions).
    input_rows: NotRequired[InputRows]


@cache
def trained_pipeline() -> Pipeline:
    return load_pipeline()


@cache
def training_data() -> pd.DataFrame:
    """The data set the shipped model was trained on, read once for the explainer and the shares."""
    return load_dataset()


@cache
def trained_table() -> PredictionTable:
    """The shipped model compiled to its answers over its whole domain."""
    return PredictionTable.from_pipeline(trained_pipeline(), config.model)


@cache
def trained_explainer() -> ShapleyExplainer:
    """The shipped model explained against its training data."""
    return ShapleyExplainer(trained_table()).fit(training_data())


def warm_up() -> None:
    """Load the model now instead of on the first call; raises ``ModelArtifactError``."""
    trained_explainer()


def make_prediction(*, input_data: InputData, keep_rows: bool = False) -> PredictionResult:
    """Predict the class of each row of a DataFrame, a list of dicts or a single dict.

    ``input_data`` may also be ``Columns``, one sequence of values per feature. ``keep_rows``
    adds ``input_rows``, the rows by canonical value (``4`` and ``"4"`` are both ``"4"``),
    for monitoring what the model is asked against what it was trained on
    (``training_value_shares``); it keeps the lookup the prediction made, and counts only
    when read.
    """
    try:
        answer = trained_table().predict(input_data)
    except InvalidRowsError as invalid:
        return PredictionResult(predictions=None, probabilities=None, version=_version, errors=invalid.errors)
    result = PredictionResult(
        predictions=answer.labels, probabilities=answer.probabilities, version=_version, errors=None
    )
    if keep_rows:
        result["input_rows"] = answer.rows
    return result


def explain(*, input_data: InputData, keep_rows: bool = False) -> ExplanationResult:
    """Explain the prediction of each row of a DataFrame, a list of dicts or a single dict.

    The same input and errors as ``make_prediction``: all rows are explained or none;
    ``keep_rows`` as there.
    """
    explainer = trained_explainer()
    domain = explainer.table.domain
    try:
        positions = domain.locate(input_data)
    except InvalidRowsError as invalid:
        return ExplanationResult(explanations=None, version=_version, errors=invalid.errors)
    result = ExplanationResult(explanations=explainer.explain_positions(positions), version=_version, errors=None)
    if keep_rows:
        result["input_rows"] = InputRows(domain, positions)
    return result


@cache
def training_value_shares() -> dict[str, dict[str, float]]:
    """Per feature, the share of the training rows that have each allowed value."""
    data = training_data()
    return {
        name: {value: float((data[name] == value).mean()) for value in values}
        for name, values in config.model.allowed_values.items()
    }
