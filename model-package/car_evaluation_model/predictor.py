"""Answer predictions from a table compiled from the trained pipeline.

The input domain is finite (4*4*4*3*3*3 = 1728 cars), so at load time the pipeline is run
once over every combination and its labels and probabilities are kept in a table. A
prediction is then a dictionary lookup per row: the key is the row's tuple of values, and
every accepted spelling of a value (``"4"`` and ``4``) has its own key, so the lookup both
validates and encodes. Rows the table does not know (a bad value, a missing or extra field)
make the lookup fail and the caller falls back to full validation for the detailed errors.

A config whose domain is larger than ``MAX_TABLE_ENTRIES`` gets ``PipelinePredictor``,
which validates with pydantic and runs the pipeline per request.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import ModelConfig
from car_evaluation_model.processing.validation import integer_aliases, validate_inputs

MAX_TABLE_ENTRIES = 100_000

Probabilities = dict[str, float]


class Predictor(Protocol):
    def predict_rows(self, rows: Sequence[Any]) -> tuple[list[str], list[Probabilities]] | None:
        """Labels and probabilities for valid rows (dicts); None if any row is not valid."""

    def predict_frame(self, frame: pd.DataFrame) -> tuple[list[str], list[Probabilities]] | None:
        """The same for a DataFrame."""


def _labelled(pipeline: Pipeline, probabilities: np.ndarray, classes: Sequence[str]) -> list[Probabilities]:
    column_of = {str(label): column for column, label in enumerate(pipeline.classes_)}
    columns = [column_of[label] for label in classes]
    return [dict(zip(classes, row, strict=True)) for row in probabilities[:, columns].tolist()]


@dataclass(frozen=True)
class PipelinePredictor:
    """The plain path: pydantic validation, a DataFrame, ``pipeline.predict_proba``."""

    pipeline: Pipeline
    model_config: ModelConfig

    def predict_frame(self, frame: pd.DataFrame) -> tuple[list[str], list[Probabilities]] | None:
        rows, errors = validate_inputs(input_data=frame, model_config=self.model_config)
        if errors:
            return None
        probabilities = self.pipeline.predict_proba(rows)
        labels = [str(label) for label in self.pipeline.classes_[probabilities.argmax(axis=1)]]
        return labels, _labelled(self.pipeline, probabilities, self.model_config.classes)

    def predict_rows(self, rows: Sequence[Any]) -> tuple[list[str], list[Probabilities]] | None:
        return self.predict_frame(pd.DataFrame(list(rows))) if rows else None


@dataclass(frozen=True)
class TablePredictor:
    """The pipeline's answers over the whole input domain, looked up by the row's values."""

    feature_names: tuple[str, ...]
    index_of: dict[tuple[Any, ...], int]  # every accepted spelling of every combination -> table row
    labels: tuple[str, ...]  # table row -> predicted label
    probabilities: tuple[Probabilities, ...]  # table row -> {label: probability}

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, model_config: ModelConfig) -> TablePredictor:
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
            feature_names=tuple(model_config.feature_names),
            index_of=index_of,
            labels=tuple(str(label) for label in pipeline.predict(domain)),
            probabilities=tuple(_labelled(pipeline, pipeline.predict_proba(domain), model_config.classes)),
        )

    def _answer(self, keys: Iterable[tuple[Any, ...]]) -> tuple[list[str], list[Probabilities]] | None:
        try:
            indices = list(map(self.index_of.__getitem__, keys))
        except (KeyError, TypeError):  # unknown value, missing field, unhashable value, not a dict
            return None
        labels = list(map(self.labels.__getitem__, indices))
        # Copies, so that a caller who edits a result cannot change the table.
        probabilities = list(map(dict, map(self.probabilities.__getitem__, indices)))
        return labels, probabilities

    def predict_rows(self, rows: Sequence[Any]) -> tuple[list[str], list[Probabilities]] | None:
        width = len(self.feature_names)
        try:
            # A row with as many keys as there are features, all of them present, has no extra.
            if not rows or not all(map(width.__eq__, map(len, rows))):
                return None
        except TypeError:  # a row without a length (a number, None)
            return None
        return self._answer(zip(*(map(itemgetter(name), rows) for name in self.feature_names), strict=True))

    def predict_frame(self, frame: pd.DataFrame) -> tuple[list[str], list[Probabilities]] | None:
        if frame.empty or len(frame.columns) != len(self.feature_names):
            return None
        try:
            columns = [frame[name].tolist() for name in self.feature_names]
        except KeyError:
            return None
        return self._answer(zip(*columns, strict=True))


def domain_size(model_config: ModelConfig) -> int:
    return math.prod(len(feature.values) for feature in model_config.features)


def compile_predictor(
    pipeline: Pipeline, model_config: ModelConfig, max_table_entries: int = MAX_TABLE_ENTRIES
) -> Predictor:
    """The table when the domain is small enough, else the pipeline itself."""
    if domain_size(model_config) > max_table_entries:
        return PipelinePredictor(pipeline, model_config)
    return TablePredictor.from_pipeline(pipeline, model_config)
