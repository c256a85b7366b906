"""Batch scoring benchmark: rows/s of each batch path on one generated Parquet file.

    python -m bench.batch [--rows 10000000] [--baseline-rows 1000000] [--workdir DIR]

Generates a deterministic Parquet file of cars (an ``id`` column, 0.1% invalid rows) and
prints rows/s for: the floor (read it and write a file of the output's size with pyarrow,
scoring nothing), the command line, Spark (``local[2]``: ``spark.score``, a broadcast join,
and beside it the Python path, ``mapInArrow``), Dask (two worker processes), DuckDB (the
``car-evaluation-model sql`` view written to Parquet with ``COPY``, two threads), and what users
write today, the scikit-learn pipeline's ``predict_proba`` per chunk and per partition in
Spark's ``mapInPandas`` (on the first ``--baseline-rows`` rows: they are slow). Each engine's
own floor on the same file: Spark's read and write (and through an identity ``mapInArrow``,
the ceiling of any ``mapInArrow`` path; and with columns like the output's added, the ceiling
of any path that writes them), DuckDB's ``COPY (SELECT * FROM 'in.parquet') TO
'out.parquet'``; and for Dask a merge of each partition with the model's table, without the
error column (the ceiling of a merge path). Also the command's peak memory for the whole file
and for the first ``--baseline-rows`` rows, and the goals: the command at least 0.5x the floor,
its peak for the file at most 1.5x its peak for the smaller one, ``spark.score`` at least 0.6x
Spark's read and write, DuckDB's scoring at least 0.5x its ``COPY``. A script that prints
figures, not a test; it writes them to bench/results/batch.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import dask.dataframe as dd
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from distributed import Client, LocalCluster
from pyspark.sql import DataFrame, SparkSession, functions

from bench import results as results_file
from car_evaluation_model import dask as dask_scoring
from car_evaluation_model import spark as spark_scoring
from car_evaluation_model.batch import ERROR, output_fields
from car_evaluation_model.batch_files import DEFAULT_CHUNK_ROWS
from car_evaluation_model.config.core import config
from car_evaluation_model.model_table import model_table
from car_evaluation_model.predict import trained_pipeline
from car_evaluation_model.prediction_table import class_columns
from car_evaluation_model.sql import script
from devtools.spark import local_session

SEED = 19
INVALID_SHARE = 0.001
GENERATE_ROWS = 1_000_000  # rows generated and written at a time
# Row groups that Spark can split between its two cores, in the small file too.
ROW_GROUP_ROWS = 250_000
COMMAND = Path(sys.executable).with_name("car-evaluation-model")


def generate(path: Path, rows: int) -> None:
    """``rows`` random cars with an id; 0.1% of them with a misspelled or missing value."""
    rng = np.random.default_rng(SEED)
    features = config.model.features
    schema = pa.schema([pa.field("id", pa.int64()), *(pa.field(feature.name, pa.string()) for feature in features)])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, GENERATE_ROWS):
            count = min(GENERATE_ROWS, rows - start)
            columns = [pa.array(np.arange(start, start + count))]
            for feature in features:
                spellings = [*feature.values, feature.values[0].upper(), None]  # the last two are invalid
                weights = np.full(len(spellings), (1 - INVALID_SHARE / len(features)) / len(feature.values))
                weights[-2:] = INVALID_SHARE / len(features) / 2
                choice = rng.choice(len(spellings), size=count, p=weights / weights.sum())
                columns.append(pa.array(np.asarray(spellings, dtype=object)[choice], pa.string()))
            writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=ROW_GROUP_ROWS)


@dataclass(frozen=True)
class Measure:
    name: str
    rows: int
    seconds: float
    peak_rss_mib: float | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def timed(name: str, rows: int, run: Callable[[], object], repeats: int = 1) -> Measure:
    """The shortest of ``repeats`` runs."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return Measure(name, rows, min(seconds))


def floor(source: Path, target: Path) -> None:
    """Read the file and write one of the output's size and kinds of column, scoring nothing."""
    added = output_fields(config.model.classes)
    rng = np.random.default_rng(SEED)
    floats = rng.random(DEFAULT_CHUNK_ROWS)  # probabilities' entropy without computing any
    reader = pq.ParquetFile(source)
    writer: pq.ParquetWriter | None = None
    for chunk in reader.iter_batches(batch_size=DEFAULT_CHUNK_ROWS):
        rows = chunk.num_rows
        extra = [
            chunk.column(1),  # a string column as wide as the predictions
            *(pa.array(floats[:rows]) for _ in config.model.classes),
            pa.nulls(rows, pa.string()),
        ]
        out = pa.Table.from_arrays([*chunk.columns, *extra], schema=pa.schema([*chunk.schema, *added]))
        writer = writer or pq.ParquetWriter(target, out.schema)
        writer.write_table(out)
    if writer is not None:
        writer.close()


def command(source: Path, target: Path, rows: int) -> Measure:
    """The console script in a process of its own; its peak memory from the kernel (``wait4``)."""
    started = time.perf_counter()
    process = subprocess.Popen([str(COMMAND), "score", str(source), str(target)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"the command failed on {source} ({process.returncode})")
    return Measure(f"command line, {rows:,} rows", rows, seconds, usage.ru_maxrss / 1024)


def pipeline_per_chunk(source: Path, target: Path) -> None:
    """What a user writes today: pandas chunks through the pipeline, invalid rows left out of it."""
    pipeline = trained_pipeline()
    allowed = config.model.allowed_values
    classes = config.model.classes
    columns = class_columns(pipeline, classes)
    writer: pq.ParquetWriter | None = None
    for chunk in pq.ParquetFile(source).iter_batches(batch_size=DEFAULT_CHUNK_ROWS):
        frame = chunk.to_pandas()
        frame = _with_pipeline_probabilities(frame, pipeline, allowed, classes, columns)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(target, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


def _with_pipeline_probabilities(
    frame: pd.DataFrame,
    pipeline: object,
    allowed: dict[str, tuple[str, ...]],
    classes: Sequence[str],
    columns: list[int],
) -> pd.DataFrame:
    valid = np.logical_and.reduce([frame[name].isin(values).to_numpy() for name, values in allowed.items()])
    probabilities = np.full((len(frame), len(classes)), np.nan)
    if valid.any():
        probabilities[valid] = pipeline.predict_proba(frame.loc[valid, list(allowed)])[:, columns]  # type: ignore[attr-defined]
    for index, label in enumerate(classes):
        frame[f"probability_{label}"] = probabilities[:, index]
    return frame


# The JVM compiles the code it runs as it goes, and Dask's worker processes import and load
# the model on their first task: the first runs are slower than the next (the join's larger
# code for longer than a plain read and write). Each Spark and Dask path on the whole file is
# run this many times, and its shortest run counts.
WARM_REPEATS = 4


def spark_session() -> SparkSession:
    # A partition per row group or so, so that both cores work on either file.
    session = local_session(
        "car-evaluation-bench",
        **{"spark.driver.memory": "2g", "spark.sql.files.maxPartitionBytes": str(2 * 1024 * 1024)},
    )
    session.range(1000).count()  # the JVM's start and first job, out of either timing
    return session


def spark_write(scoring: Callable[[DataFrame], DataFrame], spark: SparkSession, source: Path, target: Path) -> None:
    scoring(spark.read.parquet(str(source))).write.mode("overwrite").parquet(str(target))


def spark_copy(spark: SparkSession, source: Path, target: Path, *, through_python: bool) -> None:
    """Spark's own cost, for reference: the file read and written again, through an identity ``mapInArrow`` or not.

    No path that hands the rows to Python with ``mapInArrow`` and writes them back can be faster
    than the identity one: it is the ceiling of ``spark.score_in_python``.
    """
    frame = spark.read.parquet(str(source))
    if through_python:
        frame = frame.mapInArrow(_same_batches, frame.schema)
    frame.write.mode("overwrite").parquet(str(target))


def spark_copy_with_columns(spark: SparkSession, source: Path, target: Path) -> None:
    """Spark's read and write with columns like the output's added, scoring nothing: the ceiling of any
    Spark path that writes them, as ``floor`` is for pyarrow.

    A feature's column as the prediction (a few values, as the classes), per class a double with
    as many different values as the model's table has (Parquet's dictionaries as large), and a
    null error.
    """
    frame = spark.read.parquet(str(source))
    table = model_table()
    added = []
    for index, field in enumerate(output_fields(config.model.classes)):
        if pa.types.is_floating(field.type):
            values = pc.count_distinct(table.column(field.name)).as_py()
            added.append((functions.floor(functions.rand(SEED + index) * values) / values).alias(field.name))
        elif field.name == ERROR:
            added.append(functions.lit(None).cast("string").alias(field.name))
        else:
            added.append(frame[config.model.feature_names[0]].alias(field.name))
    frame.select("*", *added).write.mode("overwrite").parquet(str(target))


def _same_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield from batches


def spark_map_in_pandas(spark: SparkSession, source: Path, target: Path) -> None:
    """What a user writes today on Spark: the pipeline per partition, the same columns written as ``spark.score``.

    The label is the most probable class (what ``predict`` gives, without a second pass);
    an invalid row gets a null label and probabilities and a generic message in ``error``.
    """
    pipeline = trained_pipeline()
    allowed = config.model.allowed_values
    classes = config.model.classes
    columns = class_columns(pipeline, classes)
    labels = np.asarray(classes, dtype=object)
    frame = spark.read.parquet(str(source))
    added = output_fields(classes)
    schema = ", ".join(
        [*(f"{field.name} {field.dataType.simpleString()}" for field in frame.schema.fields)]
        + [f"{field.name} {'double' if pa.types.is_floating(field.type) else 'string'}" for field in added]
    )
    names = [*frame.columns, *(field.name for field in added)]

    def score_partition(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in frames:
            scored = _with_pipeline_probabilities(part, pipeline, allowed, classes, columns)
            probabilities = scored[[f"probability_{label}" for label in classes]].to_numpy()
            valid = ~np.isnan(probabilities[:, 0])
            prediction = labels[probabilities.argmax(axis=1)]
            prediction[~valid] = None
            error = np.full(len(scored), None, dtype=object)
            error[~valid] = "invalid feature value"
            scored["prediction"], scored["error"] = prediction, error
            yield scored[names]

    frame.mapInPandas(score_partition, schema).write.mode("overwrite").parquet(str(target))


def duckdb_copy(source: Path, target: Path, *, scored: bool) -> None:
    """DuckDB (two threads): the file copied with ``COPY``, or scored by the ``sql`` view on the way."""
    connection = duckdb.connect(config={"threads": 2})
    try:
        connection.execute(f"CREATE VIEW cars AS SELECT * FROM read_parquet('{source}')")
        if scored:
            connection.execute(script("cars", "duckdb"))
        relation = "cars_scored" if scored else "cars"
        connection.execute(f"COPY (SELECT * FROM {relation}) TO '{target}' (FORMAT parquet)")
    finally:
        connection.close()


def dask_merge(source: Path, target: Path) -> None:
    """Each partition merged with the model's table (no error column): the ceiling of a merge path on Dask."""
    model = model_table().to_pandas()
    frame = dd.read_parquet(source)
    frame.merge(model, how="left", on=list(config.model.feature_names)).to_parquet(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--baseline-rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    arguments = parser.parse_args()
    rows, small_rows = arguments.rows, min(arguments.baseline_rows, arguments.rows)
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="car-evaluation-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source, small = workdir / "cars.parquet", workdir / "cars-small.parquet"
    try:
        print(f"generating {rows:,} rows in {workdir} ...", flush=True)
        generate(source, rows)
        generate(small, small_rows)
        measures = [
            timed("floor: pyarrow read + write, no scoring", rows, lambda: floor(source, workdir / "floor.parquet"))
        ]
        measures.append(command(source, workdir / "scored.parquet", rows))
        measures.append(command(small, workdir / "scored-small.parquet", small_rows))
        measures.append(
            timed(
                f"pipeline predict_proba per chunk, {small_rows:,} rows",
                small_rows,
                lambda: pipeline_per_chunk(small, workdir / "pipeline.parquet"),
            )
        )
        spark = spark_session()
        try:
            # Steady state for every Spark timing: the Python workers started, the model loaded in each,
            # and the JVM's code for reading, Arrow and writing Parquet compiled, out of the first timing.
            for warm_up in (spark_scoring.score, spark_scoring.score_in_python):
                warm_up(spark.read.parquet(str(small))).write.mode("overwrite").parquet(str(workdir / "warm"))
            for name, scoring, output in (
                ("broadcast join (spark.score)", spark_scoring.score, "spark"),
                ("mapInArrow (spark.score_in_python)", spark_scoring.score_in_python, "spark-python"),
            ):
                write = partial(spark_write, scoring, spark, source, workdir / output)
                measures.append(timed(f"Spark local[2], {name}", rows, write, WARM_REPEATS))
            measures.append(
                timed(
                    f"Spark local[2], pipeline in mapInPandas, {small_rows:,} rows",
                    small_rows,
                    lambda: spark_map_in_pandas(spark, small, workdir / "spark-pandas"),
                )
            )
            measures.append(
                timed(
                    "Spark local[2], read + write, no Python (reference)",
                    rows,
                    lambda: spark_copy(spark, source, workdir / "spark-copy", through_python=False),
                    WARM_REPEATS,
                )
            )
            measures.append(
                timed(
                    "Spark local[2], identity mapInArrow (reference: the ceiling of the mapInArrow path)",
                    rows,
                    lambda: spark_copy(spark, source, workdir / "spark-identity", through_python=True),
                    WARM_REPEATS,
                )
            )
            measures.append(
                timed(
                    "Spark local[2], read + write with the output's columns added, no scoring "
                    "(reference: the ceiling of any path that writes them)",
                    rows,
                    lambda: spark_copy_with_columns(spark, source, workdir / "spark-columns"),
                    WARM_REPEATS,
                )
            )
        finally:
            spark.stop()
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            Client(cluster),
        ):
            measures.append(
                timed(
                    "Dask, 2 worker processes (dask.score)",
                    rows,
                    lambda: dask_scoring.score(dd.read_parquet(source)).to_parquet(workdir / "dask"),
                    WARM_REPEATS,
                )
            )
            measures.append(
                timed(
                    "Dask, 2 worker processes, merge with the model's table (reference: the ceiling of a merge path)",
                    rows,
                    lambda: dask_merge(source, workdir / "dask-merge"),
                    WARM_REPEATS,
                )
            )
        measures.append(
            timed(
                "DuckDB, 2 threads, COPY of the sql view (car-evaluation-model sql)",
                rows,
                lambda: duckdb_copy(source, workdir / "duckdb.parquet", scored=True),
            )
        )
        measures.append(
            timed(
                "DuckDB, 2 threads, COPY of the file (reference)",
                rows,
                lambda: duckdb_copy(source, workdir / "duckdb-copy.parquet", scored=False),
            )
        )
        tables = report(measures)
        print(f"\n{tables}\nresults: {results_file.write('batch', 'bench.batch', tables)}")
    finally:
        if arguments.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def report(measures: list[Measure]) -> str:
    floor_speed = measures[0].rows_per_second
    lines = ["| path | rows | seconds | rows/s | x floor | peak RSS |", "|---|--:|--:|--:|--:|--:|"]
    for measure in measures:
        peak = f"{measure.peak_rss_mib:,.0f} MiB" if measure.peak_rss_mib is not None else ""
        lines.append(
            f"| {measure.name} | {measure.rows:,} | {measure.seconds:.1f} | {measure.rows_per_second:,.0f} "
            f"| {measure.rows_per_second / floor_speed:.2f} | {peak} |"
        )
    command_large, command_small = measures[1], measures[2]
    spark, spark_python = measures[4], measures[5]
    spark_copy_, spark_identity, spark_columns = measures[7], measures[8], measures[9]
    dask, dask_merge_ = measures[10], measures[11]
    duckdb_scored, duckdb_copy_ = measures[12], measures[13]
    assert command_large.peak_rss_mib is not None
    assert command_small.peak_rss_mib is not None
    lines.append(
        f"\nGoals: command line {command_large.rows_per_second / floor_speed:.2f}x the floor (>= 0.5); "
        f"command's peak memory {command_large.peak_rss_mib / command_small.peak_rss_mib:.2f}x "
        f"for {command_large.rows:,} rows as for {command_small.rows:,} (<= 1.5); "
        f"spark.score {spark.rows_per_second / spark_copy_.rows_per_second:.2f}x Spark's read + write (>= 0.6); "
        f"DuckDB's scoring {duckdb_scored.rows_per_second / duckdb_copy_.rows_per_second:.2f}x its COPY (>= 0.5)."
        f"\nFor reference: Spark's read + write with the output's columns added, scoring nothing, is "
        f"{spark_columns.rows_per_second / spark_copy_.rows_per_second:.2f}x its plain read + write; "
        f"spark.score is {spark.rows_per_second / spark_python.rows_per_second:.1f}x "
        f"the mapInArrow path, which is {spark_python.rows_per_second / spark_identity.rows_per_second:.2f}x "
        f"an identity mapInArrow; a merge with the model's table on Dask, without the error column, is "
        f"{dask_merge_.rows_per_second / dask.rows_per_second:.2f}x dask.score."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
