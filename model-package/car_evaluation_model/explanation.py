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
from typing import TypedDict

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import ModelConfig
from car_evaluation_model.domain import Domain
from car_evaluation_model.prediction_table import class_columns
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


class ShapleyExplainer:
    """Exact interventional Shapley values and counterfactuals over a finite input domain.

    Follows scikit-learn's conventions: the constructor only stores its parameter, ``fit``
    learns everything (the attributes ending in ``_``) and returns the explainer. Classes are in
    the config's order (``classes_``), as ``make_prediction`` labels its probabilities.
    """

    def __init__(self, model_config: ModelConfig) -> None:
        self.model_config = model_config

    def fit(self, pipeline: Pipeline, background: pd.DataFrame) -> ShapleyExplainer:
        """Explain every row of the domain against ``background`` (one row per observation).

        The background may hold any rows of the domain, repeated or not; columns other than
        the features are ignored.
        """
        domain = Domain.from_config(self.model_config)
        classes = tuple(self.model_config.classes)
        positions = domain.positions_of_frame(background.reindex(columns=list(domain.feature_names)))
        if positions is None:
            raise ValueError("the background must have at least one row, every feature and only allowed values")
        counts = np.bincount(positions, minlength=domain.size)
        pipeline_probabilities = pipeline.predict_proba(domain.frame())
        # What the classifier's predict does, without running the pipeline a second time.
        predictions = tuple(str(label) for label in pipeline.classes_[pipeline_probabilities.argmax(axis=1)])
        probabilities = pipeline_probabilities[:, class_columns(pipeline, classes)]
        base_values, shapley = shapley_values(
            probabilities.reshape(*domain.shape, len(classes)), (counts / counts.sum()).reshape(domain.shape)
        )

        self.domain_ = domain
        self.classes_ = classes
        self.feature_names_in_ = domain.feature_names
        self.n_features_in_ = len(domain.feature_names)
        self.background_counts_ = counts  # position -> number of background rows
        self.base_values_ = base_values  # (classes,)
        self.probabilities_ = probabilities  # (positions, classes)
        self.predictions_ = predictions  # position -> predicted class
        self.shapley_values_ = np.moveaxis(shapley, 0, -2).reshape(domain.size, self.n_features_in_, len(classes))
        self.counterfactuals_ = self._counterfactuals()  # position -> the single changes that flip it
        return self

    def _counterfactuals(self) -> tuple[tuple[Counterfactual, ...], ...]:
        domain, classes = self.domain_, self.classes_
        class_index = {label: index for index, label in enumerate(classes)}
        predicted = np.array([class_index[label] for label in self.predictions_])
        positions = np.arange(domain.size)
        coordinates = np.unravel_index(positions, domain.shape)
        found: list[list[Counterfactual]] = [[] for _ in positions]
        for axis, feature in enumerate(self.model_config.features):
            stride = math.prod(domain.shape[axis + 1 :])
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
                            probability=float(self.probabilities_[to, label]),
                        )
                    )
        return tuple(map(tuple, found))

    def explain(self, input_data: InputData) -> list[Explanation] | None:
        """Explanations of valid rows (a DataFrame, a list of dicts or a dict); None if any row is not valid."""
        positions = self.domain_.positions(input_data)
        return None if positions is None else self.explain_positions(positions)

    def explain_positions(self, positions: Iterable[int]) -> list[Explanation]:
        """Explanations of domain rows given by position; fresh objects, so callers may edit them."""
        classes, features = self.classes_, self.feature_names_in_
        base_values = self.base_values_.tolist()
        return [
            Explanation(
                prediction=self.predictions_[position],
                probabilities=dict(zip(classes, self.probabilities_[position].tolist(), strict=True)),
                base_values=dict(zip(classes, base_values, strict=True)),
                shapley={
                    label: dict(zip(features, by_feature, strict=True))
                    for label, by_feature in zip(classes, self.shapley_values_[position].T.tolist(), strict=True)
                },
                counterfactuals=[change.copy() for change in self.counterfactuals_[position]],
            )
            for position in positions
        ]
