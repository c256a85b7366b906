"""Real batch engines for the tests: a local Spark (``local[2]``) and a Dask ``LocalCluster``.

Spark needs Java. Outside CI the Spark tests are skipped, with the install command, when it is
missing; in CI (``CI`` set) a missing Java fails them, so they cannot silently stop running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import dask
import pytest
from distributed import Client, LocalCluster

from devtools.spark import local_session

JAVA_INSTALL = "apt-get install -y openjdk-17-jre-headless"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        message = f"Spark needs Java, which is not on the PATH: install it with `{JAVA_INSTALL}`"
        if os.environ.get("CI"):
            pytest.fail(f"the Spark tests must run in CI; {message}")
        pytest.skip(message)
    session = local_session("car-evaluation-tests", **{"spark.sql.shuffle.partitions": "2"})
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def dask_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # The scheduler's and workers' scratch space in the run's own directory: by default each
    # leaves a dask-scratch-space directory in the system's temporary directory.
    with (
        dask.config.set({"temporary-directory": str(tmp_path_factory.mktemp("dask"))}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
