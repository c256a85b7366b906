"""car-evaluation-model: a trained classifier for the UCI Car Evaluation data set.

Public API::

    from car_evaluation_model import __version__, make_prediction, explain, load_model_card
    from car_evaluation_model import Columns, count_values   # column input, monitoring counts
    from car_evaluation_model import Domain, domain_of       # what a valid car is
    from car_evaluation_model.config.core import config   # features and allowed values
"""

from car_evaluation_model.domain import CarInput, Domain, FeatureValues, InvalidRowsError, domain_of
from car_evaluation_model.explanation import ExplanationResult
from car_evaluation_model.input_rows import InputRows, ValueCounts, count_values
from car_evaluation_model.predict import (
    PredictionResult,
    explain,
    make_prediction,
    training_value_shares,
    warm_up,
)
from car_evaluation_model.processing.data_manager import ModelArtifactError, load_model_card
from car_evaluation_model.processing.validation import Columns, RowError
from car_evaluation_model.version import __version__

__all__ = [
    "CarInput",
    "Columns",
    "Domain",
    "ExplanationResult",
    "FeatureValues",
    "InputRows",
    "InvalidRowsError",
    "ModelArtifactError",
    "PredictionResult",
    "RowError",
    "ValueCounts",
    "__version__",
    "count_values",
    "domain_of",
    "explain",
    "load_model_card",
    "make_prediction",
    "training_value_shares",
    "warm_up",
]
