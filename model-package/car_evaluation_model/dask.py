"""Batch scoring on Dask: ``score(ddf)`` adds the columns of ``batch.score`` to a Dask DataFrame.

Needs the package's extra ``[dask]`` (dask and distributed); docs/batch.md says how to
install it. Each partition, a pandas DataFrame, is scored by ``batch.score`` on the workers
(``map_partitions``); the model is loaded once per worker process (it is cached in the process).
"""

from __future__ import annotations

import dask.dataframe as dd
from dask.dataframe.utils import make_meta

from car_evaluation_model import batch


def score(ddf: dd.DataFrame) -> dd.DataFrame:
    """``ddf`` with ``prediction``, ``probability_<class>`` and ``error`` added (see ``batch.score``).

    ``batch.MissingFeatureColumnsError`` names a missing feature column at once, before any task runs.
    """
    batch.check_columns([str(name) for name in ddf.columns])
    scored: dd.DataFrame = ddf.map_partitions(batch.score, meta=batch.score(make_meta(ddf)))
    return scored
