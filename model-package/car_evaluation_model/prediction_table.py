"""The trained pipeline compiled to a table of its answers over the whole input domain.

The input domain is finite (4*4*4*3*3*3 = 1728 cars), so at load time the pipeline is run
once over every combination and its labels and probabilities are kept in a table. A
prediction is then a lookup of each row's position in the domain (``domain.Domain``), which
both validates and encodes it. Only when a lookup fails (a bad value, a missing or extra
field) is the input validated with pydantic, for the detailed errors.

A config whose domain is larger than ``MAX_TABLE_ENTRIES`` gets ``PipelinePredictor``,
which validates with pydantic and runs the pipeline per request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import ModelConfig
from car_evaluation_model.domain import Domain
from car_evaluation_model.input_counts import InputCounts
from car_evaluation_model.processing.validation import InputData, RowError, errors_of_refused, validate_inputs

MAX_TABLE_ENTRIES = 100_000

Probabilities = dict[str, float]


@dataclass(frozen=True)
class Answer:
    """One label and one {class: probability} per input row, in input order."""

    labels: list[str]
    probabilities: list[Probabilities]
    inputs: InputCounts  # the rows' values, counted when asked for


class Predictor(Protocol):
    def predict(self, input_data: InputData) -> Answer | list[RowError]:
        """The answer for every row, or the problems of the invalid rows (never both)."""


def class_columns(pipeline: Pipeline, classes: Sequence[str]) -> list[int]:
    """The columns of ``pipeline.predict_proba`` in the order of ``classes``."""
    column_of = {str(label): column for column, label in enumerate(pipeline.classes_)}
    if set(column_of) != set(classes):
        raise ValueError(f"the pipeline's classes {sorted(column_of)} are not the config's {sorted(classes)}")
    return [column_of[label] for label in classes]


def _labelled(pipeline: Pipeline, probabilities: np.ndarray, classes: Sequence[str]) -> list[Probabilities]:
    columns = class_columns(pipeline, classes)
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
        return Answer(labels, _labelled(self.pipeline, probabilities, self.model_config.classes), self._inputs(rows))

    def _inputs(self, rows: pd.DataFrame) -> InputCounts:
        """The rows' positions in the domain, from each value's index among its feature's values."""
        allowed = self.model_config.allowed_values
        value_indices = [pd.Categorical(rows[name], categories=values).codes for name, values in allowed.items()]
        shape = tuple(len(values) for values in allowed.values())
        return InputCounts(allowed, np.ravel_multi_index(value_indices, shape).tolist())


@dataclass(frozen=True)
class PredictionTable:
    """The pipeline's answers over the whole input domain, looked up by each row's position in it."""

    model_config: ModelConfig
    domain: Domain
    labels: tuple[str, ...]  # position -> predicted label
    probabilities: tuple[Probabilities, ...]  # position -> {label: probability}

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, model_config: ModelConfig) -> PredictionTable:
        domain = Domain.from_config(model_config)
        grid = domain.frame()
        return cls(
            model_config=model_config,
            domain=domain,
            labels=tuple(str(label) for label in pipeline.predict(grid)),
            probabilities=tuple(_labelled(pipeline, pipeline.predict_proba(grid), model_config.classes)),
        )

    def predict(self, input_data: InputData) -> Answer | list[RowError]:
        positions = self.domain.positions(input_data)
        if positions is None:
            return errors_of_refused(input_data, self.model_config)
        labels = list(map(self.labels.__getitem__, positions))
        # Copies, so that a caller who edits a result cannot change the table.
        probabilities = list(map(dict, map(self.probabilities.__getitem__, positions)))
        return Answer(labels, probabilities, InputCounts(self.domain.values, positions))


def domain_size(model_config: ModelConfig) -> int:
    return math.prod(len(feature.values) for feature in model_config.features)


def compile_predictor(
    pipeline: Pipeline, model_config: ModelConfig, max_table_entries: int = MAX_TABLE_ENTRIES
) -> Predictor:
    """The table when the domain is small enough, else the pipeline itself."""
    if domain_size(model_config) > max_table_entries:
        return PipelinePredictor(pipeline, model_config)
    return PredictionTable.from_pipeline(pipeline, model_config)
