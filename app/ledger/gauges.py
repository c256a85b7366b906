"""Live performance per model version as Prometheus gauges, read from the ledger when scraped.

A collector, not gauges set by each worker: the figures come from the one database every worker
and replica writes to, so whichever worker answers a scrape reads the same ones, and nothing is
written to the multiprocess files (a dead worker's stale value could not linger there). The
figures are ``Ledger.performance``'s, the same as ``GET /api/v1/performance`` answers, read at
most once per ``max_age`` seconds per worker, in the background once a first read is done. A
database that cannot be read gives ``car_evaluation_ledger_performance_up 0`` and no figures,
never a failed scrape.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.ledger.ledger import LedgerUnavailableError

logger = logging.getLogger(__name__)

# Prometheus scrapes every 15 s or so; accuracy moves with labels, slowly: one query per worker
# per this many seconds at most, whatever the number of scrapers.
MAX_AGE_SECONDS = 30.0

Performance = Callable[[], list[dict[str, Any]]]


class PerformanceCollector(Collector):
    def __init__(
        self,
        performance: Performance,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._performance = performance
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._versions: list[dict[str, Any]] | None = None  # None: the last read failed
        self._reading = False

    def describe(self) -> list[Metric]:
        return []  # the families depend on the database's content: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        versions = self._current()
        yield GaugeMetricFamily(
            "car_evaluation_ledger_performance_up",
            "1 when the ledger's live performance could be read from its database at the last try, else 0.",
            value=0 if versions is None else 1,
        )
        if versions is not None:
            yield from performance_families(versions)

    def _current(self) -> list[dict[str, Any]] | None:
        """The figures read last; the first scrape reads them, a later one finding them stale has them read anew.

        The query covers the whole ledger and takes longer as it grows: after the first, a scrape
        never waits for it, and never starts a second while one runs.
        """
        with self._lock:
            versions, read_at = self._versions, self._read_at
            first = read_at is None
            due = read_at is None or self._clock() - read_at >= self._max_age
            if self._reading or not due:
                return versions
            self._reading = True
        if first:
            self._read()
            return self._versions
        # What was read before, even if the new read ends first: a stale scrape is answered at once.
        threading.Thread(target=self._read, name="ledger-performance", daemon=True).start()
        return versions

    def _read(self) -> None:
        started = self._clock()
        try:
            versions = self._performance()
        except LedgerUnavailableError as error:  # expected while the database is down: no traceback
            logger.warning("ledger: live performance not read for /metrics: %s", error.reason)
            versions = None
        except Exception:
            logger.warning("ledger: live performance not read for /metrics", exc_info=True)
            versions = None
        with self._lock:
            self._versions, self._read_at, self._reading = versions, started, False


def performance_families(versions: list[dict[str, Any]]) -> list[Metric]:
    """The gauges of ``Ledger.performance``'s answer; accuracy, Brier and recall only where defined."""
    version = ["model_version"]
    predictions = GaugeMetricFamily(
        "car_evaluation_ledger_predictions", "Predictions recorded in the ledger, per model version.", labels=version
    )
    labelled = GaugeMetricFamily(
        "car_evaluation_ledger_labelled", "Recorded predictions with a true label, per model version.", labels=version
    )
    accuracy = GaugeMetricFamily(
        "car_evaluation_ledger_accuracy",
        "Live accuracy: share of the labelled predictions whose latest label is the predicted class.",
        labels=version,
    )
    estimated = GaugeMetricFamily(
        "car_evaluation_ledger_estimated_accuracy",
        "Estimated accuracy over every prediction, labelled or not: the mean probability of the predicted class.",
        labels=version,
    )
    brier = GaugeMetricFamily(
        "car_evaluation_ledger_brier", "Brier score over the labelled predictions (lower is better).", labels=version
    )
    confusion = GaugeMetricFamily(
        "car_evaluation_ledger_confusion",
        "Labelled predictions by latest true label and predicted class.",
        labels=["model_version", "label", "predicted"],
    )
    recall = GaugeMetricFamily(
        "car_evaluation_ledger_recall",
        "Per class: share of the predictions labelled with it that predicted it (classes with labels only).",
        labels=["model_version", "class"],
    )
    for figures in versions:
        name = figures["model_version"]
        predictions.add_metric([name], figures["predictions"])
        labelled.add_metric([name], figures["labelled"])
        estimated.add_metric([name], figures["estimated_accuracy"])
        if figures["accuracy"] is not None:
            accuracy.add_metric([name], figures["accuracy"])
            brier.add_metric([name], figures["brier"])
        classes = figures["labels"]
        for label, counts in zip(classes, figures["confusion_matrix"], strict=True):
            for predicted, count in zip(classes, counts, strict=True):
                confusion.add_metric([name, label, predicted], count)
        for label, scores in figures["per_class"].items():
            if scores["support"]:
                recall.add_metric([name, label], scores["recall"])
    return [predictions, labelled, accuracy, estimated, brier, confusion, recall]
