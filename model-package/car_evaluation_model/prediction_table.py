"""The trained pipeline compiled to a table of its answers over the whole input domain.

The input domain is finite (4*4*4*3*3*3 = 1728 cars; ``Domain`` refuses a config with more than
``MAX_CARS``), so at load time the pipeline is run once over every combination and its labels
and probabilities are kept in a table. A prediction is then a lookup of each row's position in
the domain (``Domain.locate``), which both validates and encodes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import ModelConfig
from car_evaluation_model.domain import Domain, domain_of
from car_evaluation_model.input_rows import InputRows
from car_evaluation_model.processing.validation import InputData


class Probabilities(dict[str, float]):
    """One row's ``{label: probability}``, read-only: the table hands the same one to every caller.

    A dict (``json``, orjson, pandas and pydantic take it as one), whose changes raise
    ``TypeError``; a copy (``dict(row)``, ``copy``, ``pickle``) is a plain, changeable dict.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a prediction's probabilities are read-only; change a copy: dict(row)")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[type[dict[str, float]], tuple[dict[str, float]]]:
        return dict, (dict(self),)

    def __copy__(self) -> dict[str, float]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, object]) -> dict[str, float]:
        return dict(self)


@dataclass(frozen=True)
class Answer:
    """One label and one {class: probability} per input row, in input order."""

    labels: list[str]
    probabilities: list[Probabilities]
    rows: InputRows  # the rows' values, counted when asked for


def class_columns(pipeline: Pipeline, classes: Sequence[str]) -> list[int]:
    """The columns of ``pipeline.predict_proba`` in the order of ``classes``."""
    column_of = {str(label): column for column, label in enumerate(pipeline.classes_)}
    if set(column_of) != set(classes):
        raise ValueError(f"the pipeline's classes {sorted(column_of)} are not the config's {sorted(classes)}")
    return [column_of[label] for label in classes]


def _labelled(probabilities: np.ndarray, classes: Sequence[str]) -> list[Probabilities]:
    return [Probabilities(zip(classes, row, strict=True)) for row in probabilities.tolist()]


@dataclass(frozen=True)
class PredictionTable:
    """The pipeline's answers over the whole input domain, looked up by each row's position in it."""

    domain: Domain
    classes: tuple[str, ...]  # the config's order
    labels: tuple[str, ...]  # position -> predicted label
    probabilities: np.ndarray  # (position, class in ``classes`` order)
    probability_rows: tuple[Probabilities, ...]  # position -> {label: probability}, for lookups

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, model_config: ModelConfig) -> PredictionTable:
        domain = domain_of(model_config)
        classes = tuple(model_config.classes)
        probabilities = pipeline.predict_proba(domain.frame())[:, class_columns(pipeline, classes)]
        return cls(
            domain=domain,
            classes=classes,
            labels=tuple(classes[column] for column in probabilities.argmax(axis=1).tolist()),
            probabilities=probabilities,
            probability_rows=tuple(_labelled(probabilities, classes)),
        )

    def predict(self, input_data: InputData) -> Answer:
        return self.answer(self.domain.locate(input_data))

    def answer(self, positions: list[int]) -> Answer:
        labels = list(map(self.labels.__getitem__, positions))
        # The table's own rows, read-only, rather than a copy of each: a large request's share (bench/).
        probabilities = list(map(self.probability_rows.__getitem__, positions))
        return Answer(labels, probabilities, InputRows(self.domain, positions))
