"""Prometheus metrics of the service, exact across workers.

With several workers (``python -m app --workers N``, or ``WEB_CONCURRENCY``), every worker
writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``, which ``app.serve`` creates
empty at start, and ``GET /metrics`` reads them all: every scrape, whichever worker answers
it, reports the totals of all workers (prometheus-client's multiprocess mode). Without that
directory (one worker, tests) the metrics live in the app's own registry, with the process's
CPU and memory added.

Labels never come from raw input: routes are templates (``unmatched`` for an unknown path),
input values are counted only for the allowed values, and a rejected field outside the
features is ``other``. Label children are looked up once and kept, for speed.

With one worker, answers and predictions are tallied in plain dicts and added to the metrics
in batches, and before every scrape, which so stays exact: adding them one by one, each under
prometheus-client's lock, cost a tenth of a one-row request (bench/). With several workers,
a scrape reads every worker's files, so each worker adds them at once. Everything here runs
on the event loop.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Scope

from app.config import Settings
from app.errors import ApiError
from app.metrics_files import multiprocess_dir
from car_evaluation_model import (
    InputRows,
    ModelArtifactError,
    RowError,
    count_values,
    load_model_card,
    training_value_shares,
)
from car_evaluation_model import __version__ as model_version
from car_evaluation_model.config.core import config

UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROWS_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
BATCH_SIZE = 1000  # events (request started, answered, predicted) that wait, at most, with one worker
# Rows whose input values wait to be counted, at most: a flush counts them on the event loop
# (about half a millisecond for 10,000 rows; bench/).
BATCH_ROWS = 10_000


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that answered (``/v2/models/{model_name}/infer``), never the raw path.

    ``root_path`` is the scope's before routing: a mount (the static files) extends it. A route
    of an included router knows only its own part of the template (``/predict``); the prefix it
    was included under is the rest of the path, which holds no parameter.
    """
    path: str = scope["path"].removeprefix(root_path)
    route = scope.get("route")
    if isinstance(route, BaseRoute) and hasattr(route, "path_format"):
        template = str(route.path_format)
        own_part = template.format_map(scope.get("path_params", {}))
        return path.removesuffix(own_part) + template if path.endswith(own_part) else template
    mounted_at = scope.get("root_path", "").removeprefix(root_path)
    if mounted_at:
        return f"{mounted_at}/{{path}}"
    # A plain Starlette route the app adds itself (the OpenAPI document): matched, no parameters.
    return path if "endpoint" in scope and not scope.get("path_params") else UNMATCHED_ROUTE


class ServiceMetrics:
    """The service's metrics in one registry; one instance per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        if multiprocess_dir() is None:
            ProcessCollector(registry=self.registry)
        registry = self.registry
        self.requests = Counter(
            "car_evaluation_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "car_evaluation_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template, method and status.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "car_evaluation_http_requests_in_progress",
            "HTTP requests being answered now, by method.",
            ["method"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.predictions = Counter(
            "car_evaluation_predictions",
            "Rows predicted, by model version and predicted class (both API shapes).",
            ["model_version", "class"],
            registry=registry,
        )
        self.input_values = Counter(
            "car_evaluation_input_values",
            "Rows predicted, by feature and the value the row had (allowed values only).",
            ["feature", "value"],
            registry=registry,
        )
        self.rejected = Counter(
            "car_evaluation_rejected_inputs",
            "Problems found in rejected rows, by field (a feature, or other) and kind.",
            ["field", "kind"],
            registry=registry,
        )
        self.rows = Histogram(
            "car_evaluation_request_rows",
            "Rows per prediction request, by API shape (v1 or v2).",
            ["api"],
            buckets=ROWS_BUCKETS,
            registry=registry,
        )
        model_info = Gauge(
            "car_evaluation_model_info",
            "The model being served: always 1, its facts in the labels.",
            ["version", "estimator", "data_sha256"],
            multiprocess_mode="max",
            registry=registry,
        )
        training_share = Gauge(
            "car_evaluation_training_value_ratio",
            "Share of the training rows that have each feature value: the baseline for input drift.",
            ["feature", "value"],
            multiprocess_mode="max",
            registry=registry,
        )
        try:
            card = load_model_card()
            model_info.labels(card["version"], card["estimator"], card["data"]["sha256"]).set(1)
        except ModelArtifactError:
            pass  # no model to describe: /health and /v2/health/ready say why
        # Every class has its prediction series from the start, at 0, as the inputs below: a class
        # first predicted later would lose its first rows to rate(), and a canary's class mix with them.
        for label in config.model.classes:
            self.predictions.labels(model_version, label)
        # Every allowed value has its input series from the start, at 0, so that drift can be
        # computed from the first scrape on.
        self._input_value = {
            feature: {value: self.input_values.labels(feature, value) for value in values}
            for feature, values in config.model.allowed_values.items()
        }
        for feature, shares in training_value_shares().items():
            for value, share in shares.items():
                training_share.labels(feature, value).set(share)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        self._features = frozenset(config.model.feature_names)
        self._batch_size = 1 if multiprocess_dir() is not None else BATCH_SIZE
        self._waiting = 0  # events recorded since the last flush
        self._waiting_rows = 0  # rows predicted since the last flush
        self._in_progress: Tally[str] = Tally()
        self._answered: list[tuple[str, str, int, float]] = []
        self._rows: list[tuple[str, int]] = []
        self._classes: Tally[tuple[str, str]] = Tally()
        self._inputs: list[InputRows] = []

    def request_started(self, method: str) -> None:
        self._in_progress[method] += 1
        self._recorded()

    def request_finished(self, route: str, method: str, status: int, seconds: float) -> None:
        self._in_progress[method] -= 1
        self._answered.append((route, method, status, seconds))
        self._recorded()

    def predicted(self, api: str, version: str, classes: Mapping[str, int], input_rows: InputRows) -> None:
        """Rows answered: rows per predicted class, their input values, how many per request."""
        total = sum(classes.values())
        self._rows.append((api, total))
        for label, rows in classes.items():
            self._classes[version, label] += rows
        self._inputs.append(input_rows)  # counted at the flush, all requests' rows at once
        self._waiting_rows += total
        self._recorded()

    def _recorded(self) -> None:
        self._waiting += 1
        if self._waiting >= self._batch_size or self._waiting_rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Add the answers and predictions that wait to the metrics."""
        self._waiting = self._waiting_rows = 0
        for method, count in self._in_progress.items():
            self._child(self.in_progress, method).set(count)
        answered, self._answered = self._answered, []
        rows, self._rows = self._rows, []
        classes, self._classes = self._classes, Tally()
        inputs, self._inputs = self._inputs, []
        for route, method, status, seconds in answered:
            self._child(self.latency, route, method, str(status)).observe(seconds)
        for (route, method, status), count in Tally(answer[:3] for answer in answered).items():
            self._child(self.requests, route, method, str(status)).inc(count)
        for api, count in rows:
            self._child(self.rows, api).observe(count)
        for (version, label), count in classes.items():
            self._child(self.predictions, version, label).inc(count)
        if inputs:
            for feature, counts in count_values(inputs, config.model.allowed_values).items():
                for value, count in counts.items():
                    if count:
                        self._input_value[feature][value].inc(count)

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once (prometheus-client's own lookup is slower)."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def rejected_rows(self, errors: Iterable[RowError]) -> None:
        self.rejected_problems(Tally((error["field"], error["type"]) for error in errors))

    def rejected_problems(self, problems: Mapping[tuple[str | None, str], int]) -> None:
        """Problems counted by (field, type): a scored file's rows refused field by field."""
        for (field, type_), count in problems.items():
            label = field if field in self._features else ("inputs" if field is None else "other")
            self._child(self.rejected, label, type_).inc(count)

    @staticmethod
    def worker_exited() -> None:
        """Drop this process's live gauges (requests in progress) from the other workers' sums."""
        if multiprocess_dir() is not None:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    def exposition(self) -> Response:
        """The answer of ``GET /metrics``: every worker's values when there are several."""
        self.flush()
        if (directory := multiprocess_dir()) is not None:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        else:
            registry = self.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class NoMetrics:
    """``METRICS_ENABLED=false``: the same calls, nothing recorded, and no ``/metrics``."""

    def request_started(self, method: str) -> None:
        pass

    def request_finished(self, route: str, method: str, status: int, seconds: float) -> None:
        pass

    def predicted(self, api: str, version: str, classes: Mapping[str, int], input_rows: InputRows) -> None:
        pass

    def rejected_rows(self, errors: Iterable[RowError]) -> None:
        pass

    def rejected_problems(self, problems: Mapping[tuple[str | None, str], int]) -> None:
        pass

    def exposition(self) -> Response:
        raise ApiError.single(404, ["path"], "metrics are off (METRICS_ENABLED=false)", "not_found")


Metrics = ServiceMetrics | NoMetrics


def metrics_for(settings: Settings) -> Metrics:
    return ServiceMetrics() if settings.METRICS_ENABLED else NoMetrics()
