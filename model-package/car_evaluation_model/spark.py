"""Batch scoring on Spark: ``score(df)`` adds the columns of ``batch.score`` to a Spark DataFrame.

Needs the package's extra ``[spark]`` (pyspark); docs/batch.md says how to install it. When
every feature column is text, an integer or a boolean, the rows never leave the JVM: a valid
row is scored by a broadcast join with the model's table (``model_table``), and any other row
gets its error from the SQL of ``car_evaluation_model.sql``, the words of ``FeatureValues``.
A feature column of another type (a double, a decimal, a date ...) holds values whose Python
``repr`` SQL cannot write: such a frame goes to ``batch.score`` as Arrow record batches
(``mapInArrow``) on the executors, the model loaded once per Python worker.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, functions
from pyspark.sql.types import (
    BooleanType,
    ByteType,
    DoubleType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    StructField,
    StructType,
)

from car_evaluation_model import batch
from car_evaluation_model.config.core import config
from car_evaluation_model.model_table import model_table
from car_evaluation_model.predict import trained_table
from car_evaluation_model.sql import DIALECTS, error_expression

# Feature column types whose text in Spark is what the API's messages show (quoted for text).
_TEXT_TYPES = (StringType,)
_NUMBER_TYPES = (ByteType, ShortType, IntegerType, LongType, BooleanType)
_KEY_PREFIX = "__car_evaluation_model_"  # the model table's feature columns, apart from the frame's


def _score_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for record_batch in batches:
        yield batch.score(record_batch)


def score(df: DataFrame) -> DataFrame:
    """``df`` with ``prediction``, ``probability_<class>`` and ``error`` added (see ``batch.score``).

    ``batch.MissingFeatureColumnsError`` names a missing feature column at once, before any job runs.
    """
    batch.check_columns(df.columns)
    types = {field.name: field.dataType for field in df.schema.fields}
    features = config.model.feature_names
    if all(isinstance(types[name], _TEXT_TYPES + _NUMBER_TYPES) for name in features):
        return _joined(df, [isinstance(types[name], _TEXT_TYPES) for name in features])
    return score_in_python(df)


def _joined(df: DataFrame, quoted: list[bool]) -> DataFrame:
    """Valid rows by a broadcast join with the model's table; the others' errors in SQL."""
    domain = trained_table().domain
    cars = model_table()
    keys = {name: f"{_KEY_PREFIX}{name}" for name in domain.feature_names}
    model = df.sparkSession.createDataFrame(cars.rename_columns([keys.get(name, name) for name in cars.column_names]))
    texts = [df[name].cast("string") for name in domain.feature_names]
    condition = [text == model[keys[name]] for name, text in zip(domain.feature_names, texts, strict=True)]
    joined = df.join(functions.broadcast(model), condition, "left")
    values = [f"CAST(`{name.replace('`', '``')}` AS STRING)" for name in domain.feature_names]
    error = error_expression(domain.features, values, DIALECTS["spark"], quoted=quoted)
    added = [name for name in cars.column_names if name not in keys]
    prediction = functions.col(batch.PREDICTION)
    return joined.select(
        *(df[name] for name in df.columns),
        *added,
        functions.when(prediction.isNull(), functions.expr(error)).alias(batch.ERROR),
    )


def score_in_python(df: DataFrame) -> DataFrame:
    """``score`` with every row handed to ``batch.score`` in Python (``mapInArrow``), whatever its types."""
    added = [
        StructField(field.name, DoubleType() if pa.types.is_floating(field.type) else StringType(), nullable=True)
        for field in batch.output_fields(config.model.classes)
    ]
    return df.mapInArrow(_score_batches, StructType([*df.schema.fields, *added]))
