"""Batch scoring on Spark: ``score(df)`` adds the columns of ``batch.score`` to a Spark DataFrame.

Needs the package's extra ``[spark]`` (pyspark); docs/batch.md says how to install it. The
rows go to ``batch.score`` as Arrow record batches (``mapInArrow``) on the executors: no HTTP,
no pandas, and the model is loaded once per Python worker (it is cached in the process).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from car_evaluation_model import batch
from car_evaluation_model.config.core import config


def _score_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for record_batch in batches:
        yield batch.score(record_batch)


def score(df: DataFrame) -> DataFrame:
    """``df`` with ``prediction``, ``probability_<class>`` and ``error`` added (see ``batch.score``).

    ``batch.MissingFeatureColumnsError`` names a missing feature column at once, before any job runs.
    """
    classes = config.model.classes
    batch.check_columns(df.columns)
    added = [
        StructField(field.name, DoubleType() if pa.types.is_floating(field.type) else StringType(), nullable=True)
        for field in batch.output_fields(classes)
    ]
    return df.mapInArrow(_score_batches, StructType([*df.schema.fields, *added]))
