"""The registry an app's metrics live in, and the exposition a scrape reads."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest, multiprocess

from app.metrics.files import multiprocess_dir

__all__ = ["CONTENT_TYPE_LATEST", "LabelledChildren", "exposition", "new_registry", "worker_exited"]


def new_registry() -> CollectorRegistry:
    """A registry for one app; with one worker, the process's CPU and memory too."""
    registry = CollectorRegistry()
    if multiprocess_dir() is None:
        ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """What ``GET /metrics`` answers: every worker's values when there are several."""
    if (directory := multiprocess_dir()) is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def worker_exited() -> None:
    """Drop this process's live gauges (requests in progress) from the other workers' sums."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class LabelledChildren:
    """``metric.labels(*labels)``, looked up once and kept: prometheus-client looks each up under a lock."""

    def __init__(self) -> None:
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def __call__(self, metric: Any, *labels: str) -> Any:
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child
