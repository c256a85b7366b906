"""Explain predictions exactly: Shapley values and the single changes that flip the verdict.

The Shapley values are interventional, with a background data set (the training data): the
value of a coalition S of features at a row x is the mean of the model's probabilities over
the background rows b with the features of S set to x's values, v(S)(x) = mean_b f(x_S, b_-S).
The input domain is a finite grid, so this is computed exactly, for every row of the domain at
once, when the explainer is fitted: with F the model's probabilities over the grid and P the
background's share of each grid cell, v(S) is F contracted with P summed over the features of
S (a tensordot over the features not in S). Explaining a row is then a lookup.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import NotRequired, TypedDict

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from car_evaluation_model.domain import InvalidRowsError
from car_evaluation_model.input_rows import InputRows
from car_evaluation_model.prediction_table import PredictionTable
from car_evaluation_model.processing.validation import InputData, RowError


class Counterfactual(TypedDict):
    """One feature set to another allowed value, which changes the predicted class."""

    feature: str
    value: str
    prediction: str  # the class predicted after the change
    probability: float  # that class's probability after the change


class Explanation(TypedDict):
    """Why one row gets its prediction. Per class: base value + sum of Shapley values = probability."""

    prediction: str
    probabilities: dict[str, float]  # class -> probability
    base_values: dict[str, float]  # class -> mean probability over the background
    shapley: dict[str, dict[str, float]]  # class -> feature -> Shapley value
    counterfactuals: list[Counterfactual]  # by feature, then value, in the config's order


class ExplanationResult(TypedDict):
    """What ``explain`` returns: every row explained and no errors, or the errors and nothing else."""

    explanations: list[Explanation] | None
    version: str  # the model package version
    errors: list[RowError] | None
    input_rows: NotRequired[InputRows]  # with keep_rows=True and valid input, as ``PredictionResult``'s


def coalition_value(probabilities: np.ndarray, background_shares: np.ndarray, coalition: tuple[int, ...]) -> np.ndarray:
    """v(S) over the grid: the mean probability with the features in S fixed, the others from the background.

    ``probabilities`` has the grid's shape plus a class axis; ``background_shares`` the grid's
    shape, summing to 1. The result broadcasts against ``probabilities`` (size 1 on the axes
    of the features not in S, whose values come from the background).
    """
    absent = tuple(axis for axis in range(background_shares.ndim) if axis not in coalition)
    absent_shares = background_shares.sum(axis=coalition)  # the background's shares of the absent values
    value = np.tensordot(probabilities, absent_shares, axes=(absent, tuple(range(len(absent)))))
    return np.expand_dims(value, absent)


def shapley_values(probabilities: np.ndarray, background_shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Base values (classes,) and Shapley values (features, *grid, classes) at every grid cell."""
    features = background_shares.ndim
    values = {
        coalition: coalition_value(probabilities, background_shares, coalition)
        for size in range(features + 1)
        for coalition in itertools.combinations(range(features), size)
    }
    shapley = np.zeros((features, *probabilities.shape))
    for coalition, value in values.items():
        others = [feature for feature in range(features) if feature not in coalition]
        if not others:
            continue
        # |S|! (d - |S| - 1)! / d!: the share of feature orderings in which exactly S precedes the feature.
        weight = math.factorial(len(coalition)) * math.factorial(len(others) - 1) / math.factorial(features)
        for feature in others:
            shapley[feature] += weight * (values[tuple(sorted((*coalition, feature)))] - value)
    return values[()].reshape(-1), shapley


class ShapleyExplainer(BaseEstimator):  # type: ignore[misc]
    """Exact interventional Shapley values and counterfactuals over a finite input domain.

    A scikit-learn estimator: the constructor only stores the model to explain (its answers
    over the whole domain, a ``PredictionTable``), ``fit(X)`` learns from the background data
    ``X`` and sets the attributes ending in ``_``, and ``explain`` before ``fit`` raises
    ``NotFittedError``. Classes are in the table's (the config's) order, as ``make_prediction``
    labels its probabilities.
    """

    def __init__(self, table: PredictionTable) -> None:
        self.table = table

    def fit(self, X: pd.DataFrame, y: None = None) -> ShapleyExplainer:
        """Explain every row of the domain against the background ``X`` (one row per observation).

        The background may hold any rows of the domain, repeated or not; columns other than
        the features are ignored. ``y`` is unused, as in scikit-learn's unsupervised estimators.
        """
        table = self.table
        domain, classes = table.domain, table.classes
        try:
            positions = domain.locate(X.reindex(columns=list(domain.feature_names)))
        except InvalidRowsError as error:
            raise ValueError(f"the background must hold only valid rows: {error}") from None
        counts = np.bincount(positions, minlength=domain.size)
        base_values, shapley = shapley_values(
            table.probabilities.reshape(*domain.shape, len(classes)), (counts / counts.sum()).reshape(domain.shape)
        )

        self.classes_ = classes
        self.feature_names_in_ = domain.feature_names
        self.n_features_in_ = len(domain.feature_names)
        self.background_counts_ = counts  # position -> number of background rows
        self.base_values_ = base_values  # (classes,)
        self.shapley_values_ = np.moveaxis(shapley, 0, -2).reshape(domain.size, self.n_features_in_, len(classes))
        self.counterfactuals_ = self._counterfactuals()  # position -> the single changes that flip it
        return self

    def _counterfactuals(self) -> tuple[tuple[Counterfactual, ...], ...]:
        domain, classes, probabilities = self.table.domain, self.classes_, self.table.probabilities
        class_index = {label: index for index, label in enumerate(classes)}
        predicted = np.array([class_index[label] for label in self.table.labels])
        positions = np.arange(domain.size)
        coordinates = domain.value_indices(positions)
        found: list[list[Counterfactual]] = [[] for _ in positions]
        for axis, (feature, stride) in enumerate(zip(domain.features, domain.strides, strict=True)):
            for value_index, value in enumerate(feature.values):
                changed = positions + (value_index - coordinates[axis]) * stride
                flipped = np.flatnonzero(predicted[changed] != predicted)
                for position, to in zip(flipped.tolist(), changed[flipped].tolist(), strict=True):
                    label = predicted[to]
                    found[position].append(
                        Counterfactual(
                            feature=feature.name,
                            value=value,
                            prediction=classes[label],
                            probability=float(probabilities[to, label]),
                        )
                    )
        return tuple(map(tuple, found))

    def explain(self, input_data: InputData) -> list[Explanation]:
        """Explanations of the rows of a DataFrame, ``Columns``, a list of dicts or a dict.

        ``InvalidRowsError`` if any row is not valid, with the same problems as a prediction's.
        """
        return self.explain_positions(self.table.domain.locate(input_data))

    def explain_positions(self, positions: Iterable[int]) -> list[Explanation]:
        """Explanations of domain rows given by position; fresh objects, so callers may edit them."""
        check_is_fitted(self)
        classes, features = self.classes_, self.feature_names_in_
        labels, probabilities = self.table.labels, self.table.probabilities
        base_values = self.base_values_.tolist()
        return [
            Explanation(
                prediction=labels[position],
                probabilities=dict(zip(classes, probabilities[position].tolist(), strict=True)),
                base_values=dict(zip(classes, base_values, strict=True)),
                shapley={
                    label: dict(zip(features, by_feature, strict=True))
                    for label, by_feature in zip(classes, self.shapley_values_[position].T.tolist(), strict=True)
                },
                counterfactuals=[change.copy() for change in self.counterfactuals_[position]],
            )
            for position in positions
        ]
