"""The vocabulary of refused input: ``RowError``, its bounds, and how a client's value is echoed.

What a valid car is lives in ``car_evaluation_model.domain``; this module says how a refusal
is reported, so that every path (rows, columns, frames, batch tables, the service's two API
shapes) words and bounds it the same way.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import pandas as pd


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
# Longest text echoed back in an error; the input itself can be megabytes.
MAX_ECHOED_CHARS = 100


class RowError(TypedDict):
    """One problem with one input row."""

    row: int | None  # position of the row in the input; None when the input as a whole is bad
    field: str | None  # the offending field; None when the row itself is not an object
    value: Any  # what was given, bounded by ``echo`` (None when the field is missing)
    allowed: list[str]  # the values (or, for an unknown field, the field names) accepted
    type: ErrorType
    message: str


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ECHOED_CHARS else f"{text[:MAX_ECHOED_CHARS]}..."


def echo(value: Any) -> Any:
    """A bounded, JSON-safe stand-in for a client's value, for the ``value``/``input`` field of an error.

    Numbers, booleans and None are themselves, strings are cut to ``MAX_ECHOED_CHARS``, and a
    container (or any other object) is only named (``"<list>"``), however large or deep. An
    integer beyond 64 bits, which JSON encoders refuse (Python's JSON parser makes one of a long
    number), is its digits as a string, cut like one.
    """
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return _cut(str(value))
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _cut(value)
    return f"<{type(value).__name__}>"


class _ClientRepr(reprlib.Repr):
    """Python's ``repr``, with booleans and None spelled as the client's JSON spells them."""

    def repr_bool(self, value: bool, level: int) -> str:
        return "true" if value else "false"

    def repr_NoneType(self, value: None, level: int) -> str:  # noqa: N802 (reprlib's naming: repr_<type name>)
        return "null"


# Containers in messages: a few levels and items, so that any nesting the JSON parser accepts
# (orjson: 1024 levels) is shown without recursing through it.
_CLIENT_REPR = _ClientRepr()  # keyword arguments need Python 3.12
_CLIENT_REPR.maxlevel = 3
_CLIENT_REPR.maxtuple = _CLIENT_REPR.maxlist = _CLIENT_REPR.maxdict = _CLIENT_REPR.maxset = 4


def shown(value: Any) -> str:
    """A client's value as it appears inside an error message, bounded like ``echo``.

    Its ``repr`` (``'LOW'``, ``3``, ``[1, 2]``), except ``true``, ``false`` and ``null``: the
    client sent JSON, or a table whose nulls and booleans are not Python's. A text is written as
    ``ascii`` writes it, every character outside ASCII by its code: no value the domain allows
    has one, and a no-break space (``'high\\xa0'``) or a look-alike letter (``'\\u0430cc'``) is
    then seen for what it is. That rule depends on codes alone, so SQL writes it too (``sql``).
    """
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return ascii(echo(value))
    return _cut(_CLIENT_REPR.repr(value))


def is_null(value: Any) -> bool:
    """None, NaN and pandas' NA: what tables use for a missing value."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def no_rows(feature_names: list[str]) -> RowError:
    return RowError(
        row=None,
        field=None,
        value=None,
        allowed=feature_names,
        type="no_rows",
        message="no input rows; send at least one row",
    )


def too_many_errors(unlisted_rows: int, max_errors: int) -> RowError:
    return RowError(
        row=None,
        field=None,
        value=unlisted_rows,
        allowed=[],
        type="too_many_errors",
        message=f"only the first {max_errors} problems are listed; "
        f"{unlisted_rows} more rows have problems that are not listed",
    )
