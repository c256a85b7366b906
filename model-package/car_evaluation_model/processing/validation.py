"""Check input rows against the allowed values of every feature.

``CarInput`` is a pydantic model built from the config, so the allowed values, their order
and the JSON schema (enums) come from ``config.yml`` alone. Besides the data set's strings,
``doors`` and ``persons`` accept the integers people naturally write (``"doors": 4``).
Nothing else is coerced: ``"VHIGH "`` and ``"cheap"`` are errors naming the allowed values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Annotated, Any, Literal, TypedDict

import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from car_evaluation_model.config.core import FeatureSpec, ModelConfig, config


@dataclass(frozen=True, slots=True)
class Columns:
    """Rows given column by column: ``Columns({"buying": ["low", "high"], "maint": [...], ...})``.

    What column-oriented callers hold (the Open Inference Protocol sends one tensor per
    feature): the model looks the rows up from the columns, without a dict per row. Every
    column has the same length; a missing or unknown column is an error of every row.
    """

    data: Mapping[str, Collection[Any]]  # lists, tuples, numpy arrays, pandas Series

    def __post_init__(self) -> None:
        if len(set(map(len, self.data.values()))) > 1:
            raise ValueError("every column must have one value per row")

    def __len__(self) -> int:
        return next(map(len, self.data.values()), 0)

    def rows(self) -> list[dict[str, Any]]:
        """The same rows as dicts, ``[{"buying": "low", "maint": ...}, ...]``."""
        names = list(self.data)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.data.values(), strict=True)]


InputData = pd.DataFrame | Columns | Sequence[Mapping[str, Any]] | Mapping[str, Any]


ErrorType = Literal[
    "no_rows", "row_not_object", "unknown_field", "missing", "null_value", "value_not_allowed", "too_many_errors"
]

# An error list is bounded: past this many problems, the rest of the input is only counted.
MAX_LISTED_ERRORS = 100
# Longest string echoed back in an error; the input itself can be megabytes.
MAX_ECHOED_CHARS = 100


class RowError(TypedDict):
    """One problem with one input row."""

    row: int | None  # position of the row in the input; None when the input as a whole is bad
    field: str | None  # the offending field; None when the row itself is not an object
    value: Any  # what was given, bounded by ``echo`` (None when the field is missing)
    allowed: list[str]  # the values (or, for an unknown field, the field names) accepted
    type: ErrorType
    message: str


def echo(value: Any) -> Any:
    """A bounded, safely printable stand-in for a value to put in an error.

    Numbers, booleans and None are themselves, strings are cut to ``MAX_ECHOED_CHARS``, and a
    container is only named (``"<list>"``), however large or deeply nested it is.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHOED_CHARS else f"{value[:MAX_ECHOED_CHARS]}..."
    return f"<{type(value).__name__}>"


def integer_aliases(values: Sequence[str]) -> dict[int, str]:
    """The integers that stand for values such as ``"4"``: ``{4: "4"}``."""
    return {int(value): value for value in values if value.isdecimal()}


def _canonical_category(aliases: dict[int, str]) -> Any:
    def canonical(value: Any) -> Any:
        # Any number equal to an alias (4, 4.0, numpy.int64(4)) is that value; bools are not numbers here.
        if type(value) is not bool and isinstance(value, Integral | float) and value in aliases:
            return aliases[int(value)]
        return value

    return canonical


def _category_type(feature: FeatureSpec) -> Any:
    allowed: Any = Literal.__getitem__(feature.values)
    aliases = integer_aliases(feature.values)
    if not aliases:
        return allowed
    accepted_json = allowed | Literal.__getitem__(tuple(aliases))
    return Annotated[
        allowed,
        BeforeValidator(_canonical_category(aliases), json_schema_input_type=accepted_json),
    ]


def build_input_model(model_config: ModelConfig) -> type[BaseModel]:
    """A pydantic model with one required, enum-typed field per feature; extras forbidden."""
    fields: dict[str, Any] = {
        feature.name: (_category_type(feature), Field(description=feature.description.capitalize()))
        for feature in model_config.features
    }
    return create_model(
        "CarInput",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="One car: a value for each of the six features.",
        **fields,
    )


CarInput = build_input_model(config.model)


def _rows_of(input_data: InputData) -> list[Any]:
    if isinstance(input_data, pd.DataFrame):
        # Missing cells in a frame are NaN; report them as missing values (None).
        frame = input_data.astype(object).where(input_data.notna(), None)
        return frame.to_dict(orient="records")
    if isinstance(input_data, Columns):
        return input_data.rows()
    if isinstance(input_data, Mapping):
        return [input_data]
    return list(input_data)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _row_error(detail: Any, row_index: int, model_config: ModelConfig) -> RowError:
    """Turn one pydantic error into a RowError that names the field and the allowed values."""
    field = echo(str(detail["loc"][0])) if detail["loc"] else None
    value = echo(detail.get("input"))
    feature_names = model_config.feature_names
    if field is None or detail["type"] == "extra_forbidden":
        # The problem is the row's shape: the allowed values are the field names.
        shape_error: ErrorType = "row_not_object" if field is None else "unknown_field"
        message = (
            f"row must be an object with the fields {', '.join(feature_names)}"
            if field is None
            else f"unknown field {field!r}; the fields are {', '.join(feature_names)}"
        )
        return RowError(
            row=row_index, field=field, value=value, allowed=feature_names, type=shape_error, message=message
        )
    error_type: ErrorType
    if detail["type"] == "missing":
        value, error_type, problem = None, "missing", "is required"
    elif _is_missing(value):
        value, error_type, problem = None, "null_value", "must not be null"
    else:
        error_type, problem = "value_not_allowed", f"has the value {value!r}, which is not allowed"
    allowed = list(model_config.allowed_values[field])
    return RowError(
        row=row_index,
        field=field,
        value=value,
        allowed=allowed,
        type=error_type,
        message=f"{field} {problem}; allowed values: {', '.join(allowed)}",
    )


def accepted_values(model_config: ModelConfig) -> dict[str, frozenset[Any]]:
    """Per feature, every accepted spelling: the config's strings and their integer aliases."""
    return {
        feature.name: frozenset(feature.values) | frozenset(integer_aliases(feature.values))
        for feature in model_config.features
    }


def is_valid_row(row: Any, accepted: Mapping[str, frozenset[Any]]) -> bool:
    """The cheap yes/no of ``CarInput`` validation, for rows whose errors are not listed."""
    if not isinstance(row, Mapping) or row.keys() != accepted.keys():
        return False
    try:
        return all(type(value) is not bool and value in accepted[name] for name, value in row.items())
    except TypeError:  # an unhashable value (a list, a dict)
        return False


def _within(row: Any, accepted: Mapping[str, frozenset[Any]], room: int) -> tuple[Any, bool]:
    """The row, or for a row with more unknown fields than can be listed, the row cut to that many.

    A row of 50 000 unknown fields would otherwise cost 50 000 validation errors to list 100.
    """
    if not isinstance(row, Mapping) or len(row) <= len(accepted) + room:
        return row, False
    unknown = itertools.islice((name for name in row if name not in accepted), room)
    return {name: row[name] for name in [*(name for name in accepted if name in row), *unknown]}, True


def _too_many_errors(unlisted_rows: int, max_errors: int) -> RowError:
    return RowError(
        row=None,
        field=None,
        value=unlisted_rows,
        allowed=[],
        type="too_many_errors",
        message=f"only the first {max_errors} problems are listed; "
        f"{unlisted_rows} more rows have problems that are not listed",
    )


def validate_inputs(
    *, input_data: InputData, model_config: ModelConfig = config.model, max_errors: int = MAX_LISTED_ERRORS
) -> tuple[pd.DataFrame, list[RowError] | None]:
    """Validate every row; return the valid rows (canonical strings) and the errors, if any.

    The frame keeps each valid row's position in the input as its index, in the config's
    column order. ``errors`` is None only when every row is valid and there is at least one.
    At most ``max_errors`` problems are listed; then one ``too_many_errors`` entry counts the
    rows whose problems are not (all) listed, so that an error answer stays small and cheap.
    """
    input_model = CarInput if model_config is config.model else build_input_model(model_config)
    accepted = accepted_values(model_config)
    rows = _rows_of(input_data)
    valid: dict[int, dict[str, str]] = {}
    errors: list[RowError] = []
    unlisted_rows = 0
    if not rows:
        errors.append(
            RowError(
                row=None,
                field=None,
                value=None,
                allowed=model_config.feature_names,
                type="no_rows",
                message="no input rows; send at least one row",
            )
        )
    for row_index, row in enumerate(rows):
        if len(errors) >= max_errors:
            unlisted_rows += not is_valid_row(row, accepted)
            continue
        room = max_errors - len(errors)
        checked, cut = _within(row, accepted, room)
        try:
            valid[row_index] = input_model.model_validate(checked).model_dump()
        except ValidationError as error:
            details = error.errors(include_url=False)
            errors.extend(_row_error(detail, row_index, model_config) for detail in details[:room])
            unlisted_rows += cut or len(details) > room
    if unlisted_rows:
        errors.append(_too_many_errors(unlisted_rows, max_errors))
    frame = pd.DataFrame.from_dict(valid, orient="index", columns=model_config.feature_names)
    return frame, errors or None


def errors_of_refused(input_data: InputData, model_config: ModelConfig = config.model) -> list[RowError]:
    """The problems of input that a lookup in the domain refused.

    Raises ``RuntimeError`` if validation finds none: the lookup and validation must accept
    exactly the same input (a property test checks that they do).
    """
    _, errors = validate_inputs(input_data=input_data, model_config=model_config)
    if not errors:
        raise RuntimeError("the domain refused input that validation accepts")
    return errors
