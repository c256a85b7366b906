"""The trained pipeline compiled to a table of its answers over the whole input domain.

The input domain is finite (4*4*4*3*3*3 = 1728 cars), so at load time the pipeline is run
once over every combination and its labels and probabilities are kept in a table. A
prediction is then a dictionary lookup per row: the key is the row's tuple of values, and
every accepted spelling of a value (``"4"`` and ``4``) has its own key, so the lookup both
validates and encodes. Only when a lookup fails (a bad value, a missing or extra field) is
the input validated with pydantic, for the detailed errors.

A config whose domain is larger than ``MAX_TABLE_ENTRIES`` gets ``PipelinePredictor``,
which validates with pydantic and runs the pipeline per request.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import ModelConfig
from car_evaluation_model.processing.validation import InputData, RowError, integer_aliases, validate_inputs

MAX_TABLE_ENTRIES = 100_000

Probabilities = dict[str, float]


@dataclass(frozen=True)
class Answer:
    """One label and one {class: probability} per input row, in input order."""

    labels: list[str]
    probabilities: list[Probabilities]


class Predictor(Protocol):
    def predict(self, input_data: InputData) -> Answer | list[RowError]:
        """The answer for every row, or the problems of the invalid rows (never both)."""


def _labelled(pipeline: Pipeline, probabilities: np.ndarray, classes: Sequence[str]) -> list[Probabilities]:
    column_of = {str(label): column for column, label in enumerate(pipeline.classes_)}
    columns = [column_of[label] for label in classes]
    return [dict(zip(classes, row, strict=True)) for row in probabilities[:, columns].tolist()]


@dataclass(frozen=True)
class PipelinePredictor:
    """The plain path: pydantic validation, a DataFrame, ``pipeline.predict_proba``."""

    pipeline: Pipeline
    model_config: ModelConfig

    def predict(self, input_data: InputData) -> Answer | list[RowError]:
        rows, errors = validate_inputs(input_data=input_data, model_config=self.model_config)
        if errors:
            return errors
        probabilities = self.pipeline.predict_proba(rows)
        labels = [str(label) for label in self.pipeline.classes_[probabilities.argmax(axis=1)]]
        return Answer(labels, _labelled(self.pipeline, probabilities, self.model_config.classes))


@dataclass(frozen=True)
class PredictionTable:
    """The pipeline's answers over the whole input domain, looked up by the row's values."""

    model_config: ModelConfig
    feature_names: tuple[str, ...]
    index_of: dict[tuple[Any, ...], int]  # every accepted spelling of every combination -> table row
    labels: tuple[str, ...]  # table row -> predicted label
    probabilities: tuple[Probabilities, ...]  # table row -> {label: probability}

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, model_config: ModelConfig) -> PredictionTable:
        features = model_config.features
        combinations = list(itertools.product(*(feature.values for feature in features)))
        domain = pd.DataFrame(combinations, columns=model_config.feature_names)
        row_of = {combination: row for row, combination in enumerate(combinations)}
        # Per feature: every accepted spelling -> the canonical value ("4" -> "4", 4 -> "4").
        spellings = [
            {**{value: value for value in feature.values}, **integer_aliases(feature.values)} for feature in features
        ]
        index_of = {
            spelled: row_of[tuple(canonical[value] for canonical, value in zip(spellings, spelled, strict=True))]
            for spelled in itertools.product(*spellings)
        }
        return cls(
            model_config=model_config,
            feature_names=tuple(model_config.feature_names),
            index_of=index_of,
            labels=tuple(str(label) for label in pipeline.predict(domain)),
            probabilities=tuple(_labelled(pipeline, pipeline.predict_proba(domain), model_config.classes)),
        )

    def predict(self, input_data: InputData) -> Answer | list[RowError]:
        keys = (
            self._keys_of_frame(input_data) if isinstance(input_data, pd.DataFrame) else self._keys_of_rows(input_data)
        )
        try:
            indices = list(map(self.index_of.__getitem__, keys)) if keys is not None else None
        except (KeyError, TypeError):  # unknown value, missing field, unhashable value, not a dict
            indices = None
        if not indices:
            return self._errors(input_data)
        labels = list(map(self.labels.__getitem__, indices))
        # Copies, so that a caller who edits a result cannot change the table.
        probabilities = list(map(dict, map(self.probabilities.__getitem__, indices)))
        return Answer(labels, probabilities)

    def _keys_of_rows(self, input_data: Sequence[Any] | Mapping[str, Any]) -> Iterable[tuple[Any, ...]] | None:
        rows = [input_data] if isinstance(input_data, Mapping) else input_data
        width = len(self.feature_names)
        try:
            # A row with as many keys as there are features, all of them present, has no extra.
            if not all(map(width.__eq__, map(len, rows))):
                return None
        except TypeError:  # a row without a length (a number, None)
            return None
        return zip(*(map(itemgetter(name), rows) for name in self.feature_names), strict=True)

    def _keys_of_frame(self, frame: pd.DataFrame) -> Iterable[tuple[Any, ...]] | None:
        if len(frame.columns) != len(self.feature_names) or not set(self.feature_names) <= set(frame.columns):
            return None
        return zip(*(frame[name].tolist() for name in self.feature_names), strict=True)

    def _errors(self, input_data: InputData) -> list[RowError]:
        _, errors = validate_inputs(input_data=input_data, model_config=self.model_config)
        if not errors:
            raise RuntimeError("the prediction table refused input that validation accepts")
        return errors


def domain_size(model_config: ModelConfig) -> int:
    return math.prod(len(feature.values) for feature in model_config.features)


def compile_predictor(
    pipeline: Pipeline, model_config: ModelConfig, max_table_entries: int = MAX_TABLE_ENTRIES
) -> Predictor:
    """The table when the domain is small enough, else the pipeline itself."""
    if domain_size(model_config) > max_table_entries:
        return PipelinePredictor(pipeline, model_config)
    return PredictionTable.from_pipeline(pipeline, model_config)
