"""HTTP metrics, recorded by the middleware for every request: count, latency, in progress.

With one worker, requests are tallied in plain lists and added to the metrics in batches
(``WAITING_REQUESTS`` at most) and before every scrape, which so stays exact: adding each under
prometheus-client's locks is a large share of a one-row request (the HTTP benchmark's (3q)
against (3m)). With several workers a scrape reads every worker's files, so each adds at once.
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute
from starlette.types import Scope

from app.metrics.registry import LabelledChildren

UNMATCHED_ROUTE = "unmatched"
# Requests that wait, at most, to be added to the metrics with one worker.
WAITING_REQUESTS = 1000
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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


class HttpMetrics:
    """The request metrics of one app."""

    def __init__(self, registry: CollectorRegistry, *, at_once: bool) -> None:
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
        self._child = LabelledChildren()
        self._batch_size = 1 if at_once else WAITING_REQUESTS
        self._in_progress: Tally[str] = Tally()
        self._answered: list[tuple[str, str, int, float]] = []

    def request_started(self, method: str) -> None:
        self._in_progress[method] += 1
        if self._batch_size == 1:
            self.flush()

    def request_finished(self, route: str, method: str, status: int, seconds: float) -> None:
        self._in_progress[method] -= 1
        self._answered.append((route, method, status, seconds))
        if len(self._answered) >= self._batch_size:
            self.flush()

    def flush(self) -> None:
        """Add the requests that wait to the metrics (before every scrape)."""
        for method, count in self._in_progress.items():
            self._child(self.in_progress, method).set(count)
        answered, self._answered = self._answered, []
        for route, method, status, seconds in answered:
            self._child(self.latency, route, method, str(status)).observe(seconds)
        for (route, method, status), count in Tally(answer[:3] for answer in answered).items():
            self._child(self.requests, route, method, str(status)).inc(count)
