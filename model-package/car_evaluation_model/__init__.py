"""car-evaluation-model: a trained classifier for the UCI Car Evaluation data set.

Public API::

    from car_evaluation_model import __version__, make_prediction, explain, load_model_card
    from car_evaluation_model import Columns, count_values   # column input, monitoring counts
    from car_evaluation_model import Domain, domain_of       # what a valid car is
    from car_evaluation_model.config.core import config   # features and allowed values

The names are imported when first used (PEP 562), so that importing a light submodule, such as
the command line's ``--version``, does not import scikit-learn and pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from car_evaluation_model.version import __version__

if TYPE_CHECKING:
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

_MODULES = {
    "car_evaluation_model.domain": ("CarInput", "Domain", "FeatureValues", "InvalidRowsError", "domain_of"),
    "car_evaluation_model.explanation": ("ExplanationResult",),
    "car_evaluation_model.input_rows": ("InputRows", "ValueCounts", "count_values"),
    "car_evaluation_model.predict": (
        "PredictionResult",
        "explain",
        "make_prediction",
        "training_value_shares",
        "warm_up",
    ),
    "car_evaluation_model.processing.data_manager": ("ModelArtifactError", "load_model_card"),
    "car_evaluation_model.processing.validation": ("Columns", "RowError"),
}
_MODULE_OF = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


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
