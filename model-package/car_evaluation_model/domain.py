"""What a valid car is: the one definition every input path checks against.

Each feature has its allowed values (``config.yml``) and every spelling accepted for each:
the value itself and, for values such as ``"4"``, the number people write (``4``, ``4.0``;
never ``true``). ``FeatureValues.index`` decides whether one value is accepted, and
``FeatureValues.refusal`` words the refusal: rows, columns, data frames, batch tables,
``CarInput`` (the pydantic model of the API's schema) and the service's two API shapes all
go through these two, so they accept the same values and refuse them with the same message.
Values stay strict; a refused text that is an allowed value but for the case of its letters
and its spaces, hyphens and underscores (``'LOW'``, ``'v-high'``, ``'5 more'``) is refused with
"did you mean" that value (``suggestions``).

The valid cars form a finite grid, ``Domain``: its combinations are numbered in
``itertools.product`` order, the C (row-major) order of an array shaped
``(4, 4, 4, 3, 3, 3)``, so a car's position is both a row number and a flat index. Finding
each row's position both validates and encodes it (``Domain.locate``); the usual case, every
row valid, takes one dictionary lookup per row, in a table built from ``FeatureValues`` alone.
"""

from __future__ import annotations

import itertools
import math
import string
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from operator import countOf, itemgetter
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, create_model

from car_evaluation_model.config.core import FeatureSpec, ModelConfig, config
from car_evaluation_model.processing.validation import (
    MAX_LISTED_ERRORS,
    Columns,
    InputData,
    RowError,
    echo,
    is_null,
    no_rows,
    shown,
    too_many_errors,
)

# The most cars a config may describe: the model is compiled to a table of its answers over all
# of them (``prediction_table``), and rows are looked up in a table of their spellings.
MAX_CARS = 100_000

# What a suggestion overlooks in a refused text: the case of A-Z, and these characters. Only
# what SQL's translate() computes exactly (``sql.py``): every path, the SQL and Spark scripts
# included, offers the same suggestion for the same value; a likeness score (difflib) has no
# exact equal in SQL.
SUGGESTION_FOLDED = (string.ascii_uppercase, string.ascii_lowercase)
SUGGESTION_DROPPED = " -_"
_SUGGESTION_KEY = str.maketrans(*SUGGESTION_FOLDED, SUGGESTION_DROPPED)


def suggestion_key(text: str) -> str:
    """``text`` as a suggestion compares it: A-Z in lower case, without spaces, hyphens and underscores."""
    return text.translate(_SUGGESTION_KEY)


@dataclass(frozen=True, slots=True)
class FeatureValues:
    """One feature's allowed values, in order, and every spelling accepted for each."""

    name: str
    values: tuple[str, ...]
    index_of_spelling: Mapping[Any, int]  # "4" -> 2 and 4 -> 2, for doors

    @classmethod
    def from_spec(cls, spec: FeatureSpec) -> FeatureValues:
        spellings: dict[Any, int] = {value: index for index, value in enumerate(spec.values)}
        # The number people write for "2", "4" ...; 4.0 and numpy.int64(4) equal it, and are it too.
        spellings |= {int(value): index for index, value in enumerate(spec.values) if value.isdecimal()}
        return cls(spec.name, spec.values, spellings)

    def index(self, value: Any) -> int | None:
        """The position of ``value`` among the allowed values, or None when it is not accepted."""
        if type(value) is bool:  # true == 1 in Python; a JSON boolean is never a value
            return None
        try:
            return self.index_of_spelling.get(value)
        except TypeError:  # unhashable: a list, a dict
            return None

    def canonical(self, value: Any) -> str:
        """The allowed value that ``value`` spells; ``ValueError`` with the refusal's message."""
        index = self.index(value)
        if index is None:
            raise ValueError(self.refusal(None, value)["message"])
        return self.values[index]

    def refusal(self, row: int | None, value: Any) -> RowError:
        """The error for a value this feature does not accept, with a suggestion when one is near."""
        allowed = ", ".join(self.values)
        if is_null(value):
            return self._error(row, None, "null_value", f"{self.name} must not be null; allowed values: {allowed}")
        suggestion = self.suggestions.get(suggestion_key(value), "") if isinstance(value, str) else ""
        message = f"{self.name} has the value {shown(value)}, which is not allowed; allowed values: {allowed}"
        return self._error(row, echo(value), "value_not_allowed", message + suggestion)

    @property
    def suggestions(self) -> dict[str, str]:
        """``suggestion_key`` of an allowed value -> the words a refusal adds for a text with that key."""
        words: dict[str, str] = {}
        for value in self.values:  # two values with one key: the first is suggested
            words.setdefault(suggestion_key(value), f"; did you mean {shown(value)}?")
        return words

    def missing(self, row: int | None) -> RowError:
        return self._error(row, None, "missing", f"{self.name} is required; allowed values: {', '.join(self.values)}")

    def _error(self, row: int | None, value: Any, type_: Any, message: str) -> RowError:
        return RowError(row=row, field=self.name, value=value, allowed=list(self.values), type=type_, message=message)


class InvalidRowsError(ValueError):
    """Input with at least one invalid row; ``errors`` lists the problems."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


@dataclass(frozen=True)
class Domain:
    """Every valid car, and where a row falls among them (or what is wrong with it)."""

    features: tuple[FeatureValues, ...]
    feature_names: tuple[str, ...] = field(init=False)
    shape: tuple[int, ...] = field(init=False)  # number of allowed values per feature
    strides: tuple[int, ...] = field(init=False)  # how far a car's position moves per value index, per feature

    def __post_init__(self) -> None:
        shape = tuple(len(feature.values) for feature in self.features)
        if math.prod(shape) > MAX_CARS:
            raise ValueError(f"the features describe {math.prod(shape)} cars; at most {MAX_CARS} can be served")
        object.__setattr__(self, "feature_names", tuple(feature.name for feature in self.features))
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "strides", tuple(math.prod(shape[axis + 1 :]) for axis in range(len(shape))))

    @classmethod
    def from_config(cls, model_config: ModelConfig) -> Domain:
        return cls(tuple(map(FeatureValues.from_spec, model_config.features)))

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def value_indices(self, positions: Sequence[int] | np.ndarray) -> tuple[np.ndarray, ...]:
        """Per feature, the index of each car's value: the inverse of its position."""
        return np.unravel_index(np.asarray(positions, dtype=np.intp), self.shape)

    @property
    def values(self) -> dict[str, tuple[str, ...]]:
        """Feature -> its allowed values, in order."""
        return {feature.name: feature.values for feature in self.features}

    def frame(self, positions: Sequence[int] | None = None) -> pd.DataFrame:
        """The cars at ``positions`` (every car, in position order, by default), as canonical strings."""
        indices = self.value_indices(np.arange(self.size) if positions is None else positions)
        return pd.DataFrame(
            {
                feature.name: np.asarray(feature.values, dtype=object)[index]
                for feature, index in zip(self.features, indices, strict=True)
            }
        )

    def locate(self, input_data: InputData, max_errors: int = MAX_LISTED_ERRORS) -> list[int]:
        """The position of every row of a DataFrame, ``Columns``, a list of dicts or a dict.

        ``InvalidRowsError`` if any row is not valid, listing the problems: at most ``max_errors``,
        then one ``too_many_errors`` entry counting the rows whose problems are not all listed.
        """
        if isinstance(input_data, pd.DataFrame):
            input_data = Columns({str(name): column.tolist() for name, column in input_data.items()})
        if isinstance(input_data, Columns):
            columns = input_data.data
            positions = self._spelled_positions_of_columns(columns) if self._fast else None
            return positions if positions is not None else self._check(input_data.rows(), max_errors)
        rows: Sequence[Any] = [input_data] if isinstance(input_data, Mapping) else input_data
        positions = self._spelled_positions_of_rows(rows) if self._fast else None
        return positions if positions is not None else self._check(rows, max_errors)

    @cached_property
    def _fast(self) -> bool:
        # The spelled-combination table holds numbers among its keys; a JSON boolean equals 0 or
        # 1 as a key, so that table only serves features whose numbers are neither.
        booleans_are_keys = any(
            type(spelling) is int and spelling in (0, 1)
            for feature in self.features
            for spelling in feature.index_of_spelling
        )
        return not booleans_are_keys

    @cached_property
    def _position_of_spelled(self) -> dict[tuple[Any, ...], int]:
        """Every accepted spelling of every car -> its position, from ``FeatureValues`` alone."""
        spellings = [
            [(spelling, index * stride) for spelling, index in feature.index_of_spelling.items()]
            for feature, stride in zip(self.features, self.strides, strict=True)
        ]
        return {
            tuple(spelling for spelling, _ in combination): sum(offset for _, offset in combination)
            for combination in itertools.product(*spellings)
        }

    def _spelled_positions_of_rows(self, rows: Sequence[Any]) -> list[int] | None:
        width = len(self.feature_names)
        try:
            # A row with as many keys as there are features, all of them present, has no extra.
            if not rows or countOf(map(len, rows), width) != len(rows):
                return None
            # A row's values in feature order, its key in the table; with one feature, itemgetter
            # gives the value itself, not found there: such rows are checked value by value.
            return self._lookup(map(itemgetter(*self.feature_names), rows))
        except (KeyError, TypeError):  # a missing field, a row that is not a dict
            return None

    def _spelled_positions_of_columns(self, columns: Mapping[str, Collection[Any]]) -> list[int] | None:
        if columns.keys() != set(self.feature_names):
            return None
        ordered = [columns[name] for name in self.feature_names]
        return self._lookup(zip(*ordered, strict=True)) if len(ordered[0]) else None

    def _lookup(self, keys: Iterable[tuple[Any, ...]]) -> list[int] | None:
        try:
            return list(map(self._position_of_spelled.__getitem__, keys))
        except (KeyError, TypeError):  # a value not accepted, an unhashable one
            return None

    def _check(self, rows: Sequence[Any], max_errors: int) -> list[int]:
        """Every row checked value by value: the positions, or ``InvalidRowsError`` listing the problems."""
        if not rows:
            raise InvalidRowsError([no_rows(list(self.feature_names))])
        positions: list[int] = []
        errors: list[RowError] = []
        unlisted_rows = 0
        for row_index, row in enumerate(rows):
            room = max_errors - len(errors)
            position, problems, more = self._check_row(row_index, row, room)
            if position is not None:
                positions.append(position)
            errors.extend(problems)
            unlisted_rows += more
        if unlisted_rows:
            errors.append(too_many_errors(unlisted_rows, max_errors))
        if errors:
            raise InvalidRowsError(errors)
        return positions

    def _check_row(self, row_index: int, row: Any, room: int) -> tuple[int | None, list[RowError], bool]:
        """The row's position, or up to ``room`` of its problems and whether it has more."""
        fields = ", ".join(self.feature_names)
        if not isinstance(row, Mapping):
            problem = self._shape_error(
                row_index, None, row, "row_not_object", f"row must be an object with the fields {fields}"
            )
            return None, [problem][:room], room < 1
        problems: list[RowError] = []
        position = 0
        for feature, stride in zip(self.features, self.strides, strict=True):
            if feature.name not in row:
                problems.append(feature.missing(row_index))
                continue
            index = feature.index(row[feature.name])
            if index is None:
                problems.append(feature.refusal(row_index, row[feature.name]))
            else:
                position += index * stride
        # A row of 50 000 unknown fields costs only the fields listed.
        unknown = itertools.islice((name for name in row if name not in self.feature_names), room + 1)
        problems.extend(
            self._shape_error(
                row_index,
                echo(str(name)),
                row[name],
                "unknown_field",
                f"unknown field {echo(str(name))!r}; the fields are {fields}",
            )
            for name in unknown
        )
        if not problems:
            return position, [], False
        return None, problems[:room], len(problems) > room

    def _shape_error(self, row_index: int, field: str | None, value: Any, type_: Any, message: str) -> RowError:
        """A problem with the row's shape rather than a value: the allowed values are the field names."""
        allowed = list(self.feature_names)
        return RowError(row=row_index, field=field, value=echo(value), allowed=allowed, type=type_, message=message)


@cache
def domain_of(model_config: ModelConfig) -> Domain:
    return Domain.from_config(model_config)


def _field_type(feature: FeatureValues) -> Any:
    """A field that ``FeatureValues.canonical`` checks, documented as an enum of its spellings."""
    numbers = tuple(spelling for spelling in feature.index_of_spelling if isinstance(spelling, int))
    accepted: Any = Literal.__getitem__(feature.values)
    if numbers:
        accepted = accepted | Literal.__getitem__(numbers)
    return Annotated[str, PlainValidator(feature.canonical, json_schema_input_type=accepted)]


def build_input_model(model_config: ModelConfig) -> type[BaseModel]:
    """The pydantic model of one car, for schemas and pydantic users: one required field per feature."""
    features = domain_of(model_config).features
    fields: dict[str, Any] = {
        feature.name: (_field_type(feature), Field(description=spec.description.capitalize()))
        for feature, spec in zip(features, model_config.features, strict=True)
    }
    return create_model(
        "CarInput",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="One car: a value for each of the six features.",
        **fields,
    )


CarInput = build_input_model(config.model)
