"""Batch scoring: a whole table at once, each row answered or refused on its own.

``score(table)`` takes a ``pyarrow.Table``, a ``pyarrow.RecordBatch`` or a ``pandas.DataFrame``
with the six feature columns and returns the same kind with ``prediction``, one
``probability_<class>`` per class and ``error`` added; every other column passes through.
Unlike ``make_prediction``, an invalid row does not refuse the table: it keeps null
answers and its ``error``, the messages of ``FeatureValues.refusal`` (the API's, less its
``row i:`` prefix), joined with ``"; "`` when several fields are wrong.

Vectorised: each feature column is dictionary-encoded, each DISTINCT value is decided once
by the one validator (``FeatureValues.index``, ``FeatureValues.refusal``), and the rows'
positions among the 1728 cars index the prediction table with numpy and Arrow ``take``.
Nothing runs per row in Python, so millions of rows take about as long as reading them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from car_evaluation_model.config.core import config
from car_evaluation_model.domain import Domain, FeatureValues, domain_of
from car_evaluation_model.input_rows import InputRows
from car_evaluation_model.predict import trained_table
from car_evaluation_model.prediction_table import PredictionTable
from car_evaluation_model.processing.validation import RowError

PREDICTION = "prediction"
ERROR = "error"
PROBABILITY_PREFIX = "probability_"
ERROR_SEPARATOR = "; "

Table = TypeVar("Table", pa.Table, pa.RecordBatch, pd.DataFrame)


class MissingFeatureColumnsError(ValueError):
    """The input lacks feature columns; ``columns`` names them."""

    def __init__(self, columns: Sequence[str], feature_names: Sequence[str]) -> None:
        self.columns = list(columns)
        super().__init__(
            f"the input has no column {', '.join(columns)}; the feature columns are {', '.join(feature_names)}"
        )


class OutputColumnsError(ValueError):
    """The input already has columns that scoring adds; ``columns`` names them."""

    SEPARATOR = ", "

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        super().__init__(f"the input already has the column {self.SEPARATOR.join(columns)}, which scoring adds")


def output_fields(classes: Sequence[str]) -> list[pa.Field]:
    """The columns ``score`` adds, with their Arrow types."""
    return [
        pa.field(PREDICTION, pa.string()),
        *(pa.field(f"{PROBABILITY_PREFIX}{label}", pa.float64()) for label in classes),
        pa.field(ERROR, pa.string()),
    ]


def output_columns(classes: Sequence[str]) -> list[str]:
    return [field.name for field in output_fields(classes)]


@dataclass(frozen=True)
class EncodedColumn:
    """A column as its distinct values and, per row, the index of its value (-1 for null)."""

    codes: np.ndarray
    distinct: list[Any]


def encode_arrow(column: pa.Array | pa.ChunkedArray) -> EncodedColumn:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    try:
        encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    except pa.ArrowNotImplementedError:
        # A list, struct or map, which Arrow cannot encode: its values as Python's lists and dicts,
        # each refused as the API refuses a JSON array or object.
        return encode_pandas(pd.Series(column.to_pylist(), dtype=object))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    return EncodedColumn(codes, encoded.dictionary.to_pylist())


def encode_pandas(column: pd.Series) -> EncodedColumn:
    if column.dtype != object:
        codes, distinct = pd.factorize(column, use_na_sentinel=True)
        return EncodedColumn(np.asarray(codes, dtype=np.intp), list(distinct))
    # Python objects of any type: pandas' hash table takes True for 1 (they hash and compare
    # equal), and a boolean is never accepted, so values are told apart by their text too.
    try:
        codes, _ = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # a list or a dict, which cannot be hashed: told apart by repr, where None is not 'None'
        codes, _ = pd.factorize(column.map(repr))
    texts, _ = pd.factorize(column.astype(str))
    _, first_row, codes_of_pairs = np.unique(
        np.stack([codes, texts], axis=1), axis=0, return_index=True, return_inverse=True
    )
    values = column.to_numpy(dtype=object)
    return EncodedColumn(codes_of_pairs.reshape(-1).astype(np.intp), values[first_row].tolist())


@dataclass(frozen=True)
class Verdicts:
    """Per row: its position among the cars (valid rows) and its error message (invalid rows)."""

    valid: np.ndarray  # bool per row
    positions: np.ndarray  # position per row; 0 where invalid
    messages: list[str]  # each distinct error message
    message_of_row: np.ndarray  # per row, its message's index in ``messages``; 0 where valid
    problems: dict[tuple[str | None, str], int]  # (field, RowError type) -> rows refused for it, as RowError has them

    def added_columns(self, table: PredictionTable, text_type: pa.DataType) -> list[pa.Array]:
        """``prediction``, the probabilities and ``error``, in ``output_columns`` order.

        ``text_type``: the Arrow type of the two text columns (pandas keeps its text in
        ``large_string``, which a column of that type becomes without a copy).
        """
        invalid = ~self.valid
        positions = pa.array(self.positions, mask=invalid)
        labels = pc.take(pa.array(table.labels, text_type), positions)
        probabilities = table.probabilities[self.positions]
        errors = (
            pc.take(pa.array(self.messages, text_type), pa.array(self.message_of_row, mask=self.valid))
            if self.messages
            else pa.nulls(len(self.valid), text_type)
        )
        return [
            labels,
            *(pa.array(probabilities[:, column], mask=invalid) for column in range(len(table.classes))),
            errors,
        ]


def judge(domain: Domain, columns: Sequence[EncodedColumn]) -> Verdicts:
    """Every row's verdict, from each feature's distinct values decided once."""
    rows = len(columns[0].codes) if columns else 0
    valid = np.ones(rows, dtype=bool)
    positions = np.zeros(rows, dtype=np.intp)
    # Per feature: per row, the number of its refusal among that feature's distinct refusals (-1: none).
    refusal_codes: list[np.ndarray] = []
    refusals: list[list[RowError]] = []
    problems: Counter[tuple[str | None, str]] = Counter()
    for feature, stride, column in zip(domain.features, domain.strides, columns, strict=True):
        value_index, refusal_of_distinct, feature_refusals = _decide(feature, column.distinct)
        codes = column.codes  # -1, the null slot, is the last entry of both lookups
        indices = value_index[codes]
        valid &= indices >= 0
        positions += np.maximum(indices, 0) * stride
        row_refusals = refusal_of_distinct[codes]
        refusal_codes.append(row_refusals)
        refusals.append(feature_refusals)
        if feature_refusals:
            rows_per_refusal = np.bincount(row_refusals[row_refusals >= 0], minlength=len(feature_refusals))
            for refusal, count in zip(feature_refusals, rows_per_refusal.tolist(), strict=True):
                problems[feature.name, refusal["type"]] += count
    positions[~valid] = 0
    texts = [[refusal["message"] for refusal in feature_refusals] for feature_refusals in refusals]
    messages, message_of_row = _messages(~valid, refusal_codes, texts)
    return Verdicts(valid, positions, messages, message_of_row, {k: v for k, v in problems.items() if v})


def _decide(feature: FeatureValues, distinct: list[Any]) -> tuple[np.ndarray, np.ndarray, list[RowError]]:
    """Per distinct value, then null: its value index (-1: refused), its refusal's number (-1: none); the refusals."""
    value_index = np.full(len(distinct) + 1, -1, dtype=np.intp)
    refusal_of_distinct = np.full(len(distinct) + 1, -1, dtype=np.intp)
    refusals: list[RowError] = []
    for code, value in enumerate([*distinct, None]):
        index = feature.index(value)
        if index is None:
            refusal_of_distinct[code] = len(refusals)
            refusals.append(feature.refusal(None, value))
        else:
            value_index[code] = index
    return value_index, refusal_of_distinct, refusals


def _messages(
    invalid: np.ndarray, refusal_codes: list[np.ndarray], refusal_texts: list[list[str]]
) -> tuple[list[str], np.ndarray]:
    """Each invalid row's refusals joined, worded once per distinct combination of refusals.

    The distinct messages, and per row the index of its own (0 for a valid row).
    """
    rows = len(invalid)
    message_of_row = np.zeros(rows, dtype=np.intp)
    if not invalid.any():
        return [], message_of_row
    combinations, combination_of_row = np.unique(
        np.stack([codes[invalid] for codes in refusal_codes], axis=1), axis=0, return_inverse=True
    )
    texts = [
        ERROR_SEPARATOR.join(refusal_texts[feature][code] for feature, code in enumerate(combination) if code >= 0)
        for combination in combinations.tolist()
    ]
    message_of_row[invalid] = combination_of_row.reshape(-1)
    return texts, message_of_row


def check_columns(names: Sequence[str]) -> None:
    """``MissingFeatureColumnsError`` (or ``OutputColumnsError``) unless a table with these columns can be scored."""
    _check_columns(names, domain_of(config.model), config.model.classes)  # without loading the model


def _check_columns(names: Sequence[str], domain: Domain, classes: Sequence[str]) -> None:
    missing = [name for name in domain.feature_names if name not in names]
    if missing:
        raise MissingFeatureColumnsError(missing, domain.feature_names)
    taken = [name for name in output_columns(classes) if name in names]
    if taken:
        raise OutputColumnsError(taken)


@dataclass(frozen=True)
class ScoredTable:
    """An Arrow table scored, with what a service records of it."""

    table: pa.Table
    verdicts: Verdicts
    domain: Domain

    @property
    def rejected(self) -> int:
        return int((~self.verdicts.valid).sum())

    def class_counts(self) -> dict[str, int]:
        """Valid rows per predicted class, in the config's order, every class listed."""
        tally = pc.value_counts(self.table[PREDICTION].drop_null()).to_pylist()
        counted = {entry["values"]: entry["counts"] for entry in tally}
        return {label: counted.get(label, 0) for label in trained_table().classes}

    def input_rows(self) -> InputRows:
        """The valid rows, for monitoring (``InputRows``)."""
        return InputRows(self.domain, self.verdicts.positions[self.verdicts.valid].tolist())


def score_arrow(table: pa.Table) -> ScoredTable:
    """``score`` of an Arrow table, with the rows' verdicts."""
    predictions = trained_table()
    domain = predictions.domain
    _check_columns(table.schema.names, domain, predictions.classes)
    verdicts = judge(domain, [encode_arrow(table.column(name)) for name in domain.feature_names])
    columns = [*table.columns, *verdicts.added_columns(predictions, pa.string())]
    schema = pa.schema([*table.schema, *output_fields(predictions.classes)], metadata=table.schema.metadata)
    return ScoredTable(pa.Table.from_arrays(columns, schema=schema), verdicts, domain)


def score(table: Table) -> Table:
    """``table`` with each row's prediction, class probabilities and error added as columns.

    ``MissingFeatureColumnsError`` names any missing feature column.
    """
    arrow: Table  # Arrow's types are Any to mypy
    if isinstance(table, pa.Table):
        arrow = score_arrow(table).table
        return arrow
    if isinstance(table, pa.RecordBatch):
        scored = score_arrow(pa.Table.from_batches([table])).table
        arrow = pa.RecordBatch.from_arrays([column.combine_chunks() for column in scored.columns], schema=scored.schema)
        return arrow
    predictions = trained_table()
    domain = predictions.domain
    _check_columns([str(name) for name in table.columns], domain, predictions.classes)
    verdicts = judge(domain, [encode_pandas(table[name]) for name in domain.feature_names])
    scored = table.copy(deep=False)
    added = verdicts.added_columns(predictions, pa.large_string())
    for field, column in zip(output_fields(predictions.classes), added, strict=True):
        scored[field.name] = column.to_pandas().set_axis(table.index)
    return scored
