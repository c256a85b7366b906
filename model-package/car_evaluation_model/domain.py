"""The finite input domain: every combination of allowed values, and where each row falls in it.

The combinations are numbered in ``itertools.product`` order over the config's features and
values, which is the C (row-major) order of an array shaped ``(4, 4, 4, 3, 3, 3)``: a
position is both a row number and a flat index into such a grid. Every accepted spelling of a
value (``"4"`` and ``4``) has its own key, so finding a row's position both validates and
encodes it. A row the domain does not know (a bad value, a missing or extra field) gives
None, and the caller falls back to full validation for the detailed errors.

The prediction table and the explainer both look rows up here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import pandas as pd

from car_evaluation_model.config.core import ModelConfig
from car_evaluation_model.processing.validation import Columns, InputData, integer_aliases


@dataclass(frozen=True)
class Domain:
    feature_names: tuple[str, ...]
    values: dict[str, tuple[str, ...]]  # feature -> its allowed values, in order
    shape: tuple[int, ...]  # number of allowed values per feature
    combinations: tuple[tuple[str, ...], ...]  # position -> canonical values
    position_of: dict[tuple[Any, ...], int]  # every accepted spelling of every combination -> position

    @classmethod
    def from_config(cls, model_config: ModelConfig) -> Domain:
        features = model_config.features
        combinations = tuple(itertools.product(*(feature.values for feature in features)))
        canonical_position = {combination: position for position, combination in enumerate(combinations)}
        # Per feature: every accepted spelling -> the canonical value ("4" -> "4", 4 -> "4").
        spellings = [
            {**{value: value for value in feature.values}, **integer_aliases(feature.values)} for feature in features
        ]
        position_of = {
            spelled: canonical_position[
                tuple(canonical[value] for canonical, value in zip(spellings, spelled, strict=True))
            ]
            for spelled in itertools.product(*spellings)
        }
        return cls(
            feature_names=tuple(model_config.feature_names),
            values=dict(model_config.allowed_values),
            shape=tuple(len(feature.values) for feature in features),
            combinations=combinations,
            position_of=position_of,
        )

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def frame(self) -> pd.DataFrame:
        """Every combination, one row each, in position order."""
        return pd.DataFrame(list(self.combinations), columns=list(self.feature_names))

    def positions(self, input_data: InputData) -> list[int] | None:
        """The position of each row of a DataFrame, ``Columns``, a list of dicts or a dict.

        None if any row is not valid.
        """
        if isinstance(input_data, pd.DataFrame):
            return self.positions_of_frame(input_data)
        if isinstance(input_data, Columns):
            return self.positions_of_columns(input_data.data)
        return self.positions_of_rows([input_data] if isinstance(input_data, Mapping) else input_data)

    def positions_of_rows(self, rows: Sequence[Any]) -> list[int] | None:
        width = len(self.feature_names)
        try:
            # A row with as many keys as there are features, all of them present, has no extra.
            if not rows or not all(map(width.__eq__, map(len, rows))):
                return None
        except TypeError:  # a row without a length (a number, None)
            return None
        return self._positions(zip(*(map(itemgetter(name), rows) for name in self.feature_names), strict=True))

    def positions_of_frame(self, frame: pd.DataFrame) -> list[int] | None:
        if len(frame.columns) != len(self.feature_names):
            return None
        try:
            columns = {name: frame[name].tolist() for name in self.feature_names}
        except KeyError:
            return None
        return self.positions_of_columns(columns)

    def positions_of_columns(self, columns: Mapping[str, Collection[Any]]) -> list[int] | None:
        if len(columns) != len(self.feature_names):
            return None
        try:
            ordered = [columns[name] for name in self.feature_names]
        except KeyError:
            return None
        if not len(ordered[0]):
            return None
        return self._positions(zip(*ordered, strict=True))

    def _positions(self, keys: Iterable[tuple[Any, ...]]) -> list[int] | None:
        try:
            return list(map(self.position_of.__getitem__, keys))
        except (KeyError, TypeError):  # unknown value, missing field, unhashable value, not a dict
            return None
