"""The model as a table: every valid car with its prediction and class probabilities.

Built at run time from the installed package (``batch.score`` of ``Domain.frame``), so it always
matches the model that is loaded. A valid row's answer is the row of this table with its values:
engines that join (Spark, SQL databases) score valid rows with a join and never call Python.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa

from car_evaluation_model import batch
from car_evaluation_model.predict import trained_table


@cache
def model_table() -> pa.Table:
    """The feature columns (canonical values), ``prediction`` and one ``probability_<class>`` per class."""
    cars = pa.Table.from_pandas(trained_table().domain.frame(), preserve_index=False)
    return batch.score(cars).drop_columns([batch.ERROR])
