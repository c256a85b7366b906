"""The model in SQL: a script creating the model's table and a view that scores a table of cars.

``script(table, dialect)`` (what ``car-evaluation-model sql`` prints) creates ``<table>_model``,
every car with its prediction and class probabilities (``model_table``; each double written with
``repr``, which parses back to the same double), and the view ``<table>_scored``: the columns of
``<table>``, then those ``batch.score`` adds. A valid row is scored by a join with the model's
table; any other row gets a NULL prediction and the API's messages in ``error``.

The words of a refusal come from ``FeatureValues.refusal`` itself (its suggestion from
``FeatureValues.suggestions``, the key by ``translate``), and the value is quoted as
``processing.validation.shown`` quotes a text: cut to ``MAX_ECHOED_CHARS``, then Python's
``ascii`` (its choice of quote, its named escapes taken from ``ascii`` itself, and every other
character outside printable ASCII written by its code). Each feature is read as text
(``CAST(... AS <text>)``): an integer column's accepted numbers are accepted as the API accepts
them; a refused value is quoted as a text. ``error_expression`` is the same SQL for one row of
columns, which ``spark.score`` uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from car_evaluation_model import batch
from car_evaluation_model.domain import SUGGESTION_DROPPED, SUGGESTION_FOLDED, FeatureValues, suggestion_key
from car_evaluation_model.file_formats import MODEL_TABLE_SUFFIX, SCORED_VIEW_SUFFIX, SqlDialect, check_table_name
from car_evaluation_model.model_table import model_table
from car_evaluation_model.predict import trained_table
from car_evaluation_model.processing.validation import MAX_ECHOED_CHARS, shown
from car_evaluation_model.version import __version__

CUT_MARK = shown("x" * (MAX_ECHOED_CHARS + 1))[MAX_ECHOED_CHARS + 1 : -1]  # what follows a cut text
# The ASCII characters ``ascii`` escapes by name (the backslash, tab, line feed, carriage return).
_NAMED_ESCAPES = {
    character: ascii(character)[1:-1] for character in map(chr, range(0x80)) if len(ascii(character)) == 4
}
# Any other character outside printable ASCII: below each bound, the escape's prefix and digits.
_CODE_ESCAPES = ((0x100, "\\x", 2), (0x10000, "\\u", 4), (0x110000, "\\U", 8))
_PRINTABLE_ASCII = (0x20, 0x7E)
_VALUE_MARK = "VALUE"


@dataclass(frozen=True)
class Dialect:
    name: SqlDialect
    text_type: str
    double_type: str
    backslash_escapes: bool  # Spark reads backslash escapes in string literals

    def identifier(self, name: str) -> str:
        quote = "`" if self.name == "spark" else '"'
        return f"{quote}{name.replace(quote, quote * 2)}{quote}"

    def string(self, text: str) -> str:
        if self.backslash_escapes:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + text.replace("'", "''") + "'"

    def character(self, character: str) -> str:
        """A character as an expression: printable ones as literals, the others by their code."""
        return self.string(character) if character.isprintable() else f"chr({ord(character)})"

    def contains(self, text: str, part: str) -> str:
        return f"instr({text}, {part}) > 0" if self.name == "spark" else f"strpos({text}, {part}) > 0"

    def code(self, character: str) -> str:
        return f"unicode({character})" if self.name == "duckdb" else f"ascii({character})"

    def hex_digits(self, number: str, digits: int) -> str:
        hexadecimal = f"to_hex({number})" if self.name == "postgresql" else f"lower(hex({number}))"
        return f"lpad({hexadecimal}, {digits}, '0')"

    def escaped(self, text: str) -> str:
        """``text`` as ``ascii`` writes it between its quotes (``_NAMED_ESCAPES``, ``_CODE_ESCAPES``)."""
        code = self.code("c")
        named = " ".join(
            f"WHEN c = {self.character(character)} THEN {self.string(escape)}"
            for character, escape in _NAMED_ESCAPES.items()
        )
        by_code = " ".join(
            f"WHEN {code} < {bound} THEN {self.string(prefix)} || {self.hex_digits(code, digits)}"
            for bound, prefix, digits in _CODE_ESCAPES
        )
        low, high = _PRINTABLE_ASCII
        character = f"CASE {named} WHEN {code} BETWEEN {low} AND {high} THEN c {by_code} END"
        # Each character in turn, in each engine's own way of walking a text.
        characters = f"regexp_extract_all({text}, '(?s).', 0)"
        if self.name == "spark":
            return f"array_join(transform({characters}, c -> {character}), '')"
        if self.name == "duckdb":
            return f"array_to_string(list_transform({characters}, lambda c: {character}), '')"
        # PostgreSQL splits an empty text into one empty piece.
        pieces = f"regexp_split_to_table({text}, '') WITH ORDINALITY AS t(c, n) WHERE c <> ''"
        return f"coalesce((SELECT string_agg({character}, '' ORDER BY n) FROM {pieces}), '')"

    def suggestion_key(self, text: str) -> str:
        """SQL for ``domain.suggestion_key(text)``: translate() drops what its target does not list."""
        folded, to = SUGGESTION_FOLDED
        return f"translate({text}, {self.string(folded + SUGGESTION_DROPPED)}, {self.string(to)})"

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS {self.text_type})"

    def double(self, value: float) -> str:
        return f"CAST({self.string(repr(value))} AS {self.double_type})"


DIALECTS: dict[SqlDialect, Dialect] = {
    "duckdb": Dialect("duckdb", "VARCHAR", "DOUBLE", backslash_escapes=False),
    "postgresql": Dialect("postgresql", "TEXT", "DOUBLE PRECISION", backslash_escapes=False),
    "spark": Dialect("spark", "STRING", "DOUBLE", backslash_escapes=True),
}


def _shown(text: str, dialect: Dialect) -> str:
    """SQL for ``shown(text)`` of a text of at most ``MAX_ECHOED_CHARS`` characters, then the cut mark."""
    cut = (
        f"CASE WHEN length({text}) > {MAX_ECHOED_CHARS} "
        f"THEN substr({text}, 1, {MAX_ECHOED_CHARS}) || {dialect.string(CUT_MARK)} ELSE {text} END"
    )
    escaped = dialect.escaped(cut)
    # ascii's quote: a double quote when the text has a single one and no double one (the cut mark has neither).
    head = f"substr({text}, 1, {MAX_ECHOED_CHARS})"
    single, double = dialect.string("'"), dialect.string('"')
    uses_double = f"{dialect.contains(head, single)} AND NOT {dialect.contains(head, double)}"
    quote = f"CASE WHEN {uses_double} THEN {double} ELSE {single} END"
    single_inside = f"CASE WHEN {uses_double} THEN {single} ELSE {dialect.string(chr(92) + chr(39))} END"
    return f"{quote} || replace({escaped}, {single}, {single_inside}) || {quote}"


def accepted_texts(feature: FeatureValues) -> list[str]:
    """Every text that spells an allowed value when a column is read as text: the values themselves.

    A number a feature accepts (``4`` for ``"4"``) reads as its value's text.
    """
    texts = [str(spelling) for spelling in feature.index_of_spelling if type(spelling) in (str, int)]
    for text in texts:  # the join matches a row's text with the model's canonical value
        if feature.values[feature.index_of_spelling[text]] != text:
            raise ValueError(f"{feature.name}: the text {text!r} spells another value; it cannot be joined")
    return sorted(set(texts), key=texts.index)


@dataclass(frozen=True)
class _Refusal:
    """A feature's refusal as SQL: its value (text), whether shown quoted, and the words around it."""

    value: str
    quoted: str  # SQL boolean
    null_message: str
    accepted: str  # SQL boolean: the value is accepted
    prefix: str
    suffix: str
    suggestion: str  # the words a text adds ('' when none)

    def message(self, dialect: Dialect) -> str:
        """``FeatureValues.refusal``'s message about the value, NULL when it is accepted."""
        shown_value = f"CASE WHEN {self.quoted} THEN {_shown(self.value, dialect)} ELSE {self.value} END"
        suggestion = f"CASE WHEN {self.quoted} THEN {self.suggestion} ELSE '' END"
        return (
            f"CASE WHEN {self.value} IS NULL THEN {self.null_message} WHEN {self.accepted} THEN NULL "
            f"ELSE {self.prefix} || {shown_value} || {self.suffix} || {suggestion} END"
        )


def _words(feature: FeatureValues, dialect: Dialect) -> tuple[str, str, str, list[str]]:
    """The refusal's words before and after the value, its message for a null, the accepted texts: as SQL."""
    if suggestion_key(_VALUE_MARK) in feature.suggestions:
        raise ValueError(f"{feature.name}: an allowed value is too like {_VALUE_MARK!r} to word its refusals in SQL")
    prefix, suffix = feature.refusal(None, _VALUE_MARK)["message"].split(shown(_VALUE_MARK))
    null_message = feature.refusal(None, None)["message"]
    accepted = [dialect.string(text) for text in accepted_texts(feature)]
    return dialect.string(prefix), dialect.string(suffix), dialect.string(null_message), accepted


def error_expression(
    features: Sequence[FeatureValues], values: Sequence[str], dialect: Dialect, *, quoted: Sequence[bool]
) -> str:
    """SQL for ``batch.score``'s ``error`` of a row whose features are ``values`` (expressions of text).

    ``quoted``: per feature, whether its value is a text (shown in quotes) or a number's digits.
    """
    separator = dialect.string(batch.ERROR_SEPARATOR)
    if dialect.name == "spark":
        # One lambda over the features, not one expression each: the code Spark generates for a
        # row stays small enough for the JVM to compile.
        records = []
        for feature, value, is_quoted in zip(features, values, quoted, strict=True):
            prefix, suffix, null_message, accepted = _words(feature, dialect)
            suggestions = ", ".join(
                f"{dialect.string(key)}, {dialect.string(words)}" for key, words in feature.suggestions.items()
            )
            records.append(
                f"named_struct('v', {value}, 'q', {str(is_quoted).lower()}, 'n', {null_message}, "
                f"'a', array({', '.join(accepted)}), 'p', {prefix}, 's', {suffix}, 'g', map({suggestions}))"
            )
        suggestion = f"coalesce(try_element_at(f.g, {dialect.suggestion_key('f.v')}), '')"
        refusal = _Refusal("f.v", "f.q", "f.n", "array_contains(f.a, f.v)", "f.p", "f.s", suggestion)
        return f"array_join(transform(array({', '.join(records)}), f -> {refusal.message(dialect)}), {separator})"
    refusals = []
    for feature, value, is_quoted in zip(features, values, quoted, strict=True):
        prefix, suffix, null_message, accepted = _words(feature, dialect)
        in_accepted = f"{value} IN ({', '.join(accepted)})"
        quoted_sql = "TRUE" if is_quoted else "FALSE"
        cases = " ".join(
            f"WHEN {dialect.string(key)} THEN {dialect.string(words)}" for key, words in feature.suggestions.items()
        )
        suggestion = f"CASE {dialect.suggestion_key(value)} {cases} ELSE '' END"
        refusal = _Refusal(value, quoted_sql, null_message, in_accepted, prefix, suffix, suggestion)
        refusals.append(refusal.message(dialect))
    return f"concat_ws({separator}, {', '.join(refusals)})"


def _model_rows(table: pa.Table, dialect: Dialect) -> list[str]:
    rows: list[str] = []
    for row in table.to_pylist():
        if any(isinstance(value, float) and not math.isfinite(value) for value in row.values()):
            raise ValueError("a probability that is not finite cannot be written as a literal")
        cells = [dialect.double(value) if isinstance(value, float) else dialect.string(value) for value in row.values()]
        rows.append(f"({', '.join(cells)})")
    return rows


def _added_columns_refused(table: str, dialect: Dialect, added: Sequence[str]) -> str:
    """DuckDB: a statement failing with ``batch.OutputColumnsError``'s words when ``table`` has a column the view adds.

    DuckDB would rename the view's copy (``prediction_1``) where PostgreSQL refuses the view. Its
    names are matched whatever their case, as DuckDB matches them.
    """
    prefix, suffix = str(batch.OutputColumnsError([_VALUE_MARK])).split(_VALUE_MARK)
    names = ", ".join(dialect.string(name.lower()) for name in added)
    taken = (
        f"string_agg(column_name, {dialect.string(batch.OutputColumnsError.SEPARATOR)} "
        f"ORDER BY list_position([{names}], lower(column_name)))"
    )
    return (
        f"SELECT error({dialect.string(prefix)} || {taken} || {dialect.string(suffix)})\n"
        f"FROM (DESCRIBE {dialect.identifier(table)}) WHERE lower(column_name) IN ({names}) HAVING count(*) > 0;\n"
    )


def script(table: str, dialect_name: SqlDialect) -> str:
    """A script that creates ``<table>_model`` and the view ``<table>_scored`` (see the module)."""
    check_table_name(table)
    dialect = DIALECTS[dialect_name]
    cars = model_table()
    predictions = trained_table()
    domain = predictions.domain
    model_name = dialect.identifier(table + MODEL_TABLE_SUFFIX)
    scored_name = dialect.identifier(table + SCORED_VIEW_SUFFIX)
    added = [name for name in cars.column_names if name not in domain.feature_names]
    values = [dialect.as_text(f"s.{dialect.identifier(name)}") for name in domain.feature_names]
    condition = " AND ".join(
        f"{value} = m.{dialect.identifier(name)}" for name, value in zip(domain.feature_names, values, strict=True)
    )
    error = error_expression(domain.features, values, dialect, quoted=[True] * len(values))
    prediction = f"m.{dialect.identifier(batch.PREDICTION)}"
    view = (
        f"SELECT s.*, {', '.join(f'm.{dialect.identifier(name)}' for name in added)},\n"
        f"  CASE WHEN {prediction} IS NULL THEN {error} END AS {dialect.identifier(batch.ERROR)}\n"
        f"FROM {dialect.identifier(table)} AS s LEFT JOIN {model_name} AS m\n  ON {condition}"
    )
    rows = ",\n".join(_model_rows(cars, dialect))
    header = f"-- The car evaluation model {__version__}: its table, and a view scoring {table} ({dialect.name})."
    if dialect.name == "spark":  # temporary views: no warehouse needed
        columns = ", ".join(map(dialect.identifier, cars.column_names))
        return (
            f"{header}\n"
            f"CREATE OR REPLACE TEMPORARY VIEW {model_name} AS SELECT * FROM VALUES\n{rows}\nAS t({columns});\n"
            f"CREATE OR REPLACE TEMPORARY VIEW {scored_name} AS\n{view};\n"
        )
    columns = ", ".join(
        f"{dialect.identifier(field.name)} "
        f"{dialect.double_type if pa.types.is_floating(field.type) else dialect.text_type} NOT NULL"
        for field in cars.schema
    )
    key = ", ".join(map(dialect.identifier, domain.feature_names))
    added_columns = batch.output_columns(predictions.classes)
    refusal = _added_columns_refused(table, dialect, added_columns) if dialect.name == "duckdb" else ""
    # One transaction (both take DDL in one): a script that fails (no such table, a feature
    # column missing) leaves the earlier model table and view as they were, not half replaced.
    return (
        f"{header}\n"
        "BEGIN;\n"
        f"{refusal}"
        f"DROP VIEW IF EXISTS {scored_name};\n"
        f"DROP TABLE IF EXISTS {model_name};\n"
        f"CREATE TABLE {model_name} ({columns}, PRIMARY KEY ({key}));\n"
        f"INSERT INTO {model_name} VALUES\n{rows};\n"
        f"CREATE VIEW {scored_name} AS\n{view};\n"
        "COMMIT;\n"
    )
