"""What the data plane answers and refuses, as metrics: a recorder (``app.data_plane.Recorder``).

Rows predicted by model version and class, rows per request by API, the problems of refused
rows by field and kind, and the input values of the rows predicted, for drift. With one
worker, answers are tallied in plain dicts and added in batches and before every scrape (as
``app.metrics.http`` does), and the input values are counted from the rows' positions then
(``count_values``, every waiting answer at once), not per request; with several workers each
worker adds them as they come, as a scrape reads every worker's files.
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Histogram

from app.data_plane import Answered, Call, Refused
from app.metrics.files import multiprocess_dir
from app.metrics.registry import LabelledChildren
from car_evaluation_model import InputRows, count_values, domain_of
from car_evaluation_model import __version__ as model_version
from car_evaluation_model.config.core import config

ROWS_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
# Answers, and rows, that wait to be added to the metrics, at most, with one worker.
WAITING_ANSWERS = 1000
WAITING_ROWS = 10_000


class PredictionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.predictions = Counter(
            "car_evaluation_predictions",
            "Rows predicted, by model version and predicted class (predict, explain, v2 infer, the file upload).",
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
        # Every class and every allowed value has its series from the start, at 0: a class first
        # predicted later would lose its first rows to rate(), and drift is computed from the first scrape on.
        for label in config.model.classes:
            self.predictions.labels(model_version, label)
        self._input_value = {
            feature: {value: self.input_values.labels(feature, value) for value in values}
            for feature, values in config.model.allowed_values.items()
        }
        self._features = frozenset(config.model.feature_names)
        self._domain = domain_of(config.model)
        self._child = LabelledChildren()
        self._count_at_once = multiprocess_dir() is not None
        self._waiting: list[InputRows] = []
        self._waiting_rows = 0
        self._rows: list[tuple[str, int]] = []
        self._classes: Tally[tuple[str, str]] = Tally()

    def answered(self, call: Call, answer: Answered) -> None:
        rows = len(answer.rows.positions)
        self._rows.append((call.api, rows))
        for label, count in answer.classes.items():
            self._classes[answer.version, label] += count
        self._waiting.append(answer.rows)
        self._waiting_rows += rows
        if self._count_at_once or self._waiting_rows >= WAITING_ROWS or len(self._waiting) >= WAITING_ANSWERS:
            self.flush()

    def refused(self, call: Call, refusal: Refused) -> None:
        for (field, kind), count in refusal.problems.items():
            label = field if field in self._features else ("inputs" if field is None else "other")
            self._child(self.rejected, label, kind).inc(count)

    def flush(self) -> None:
        """Add the answers that wait, and their input values, to the metrics (before every scrape)."""
        rows, self._rows = self._rows, []
        classes, self._classes = self._classes, Tally()
        for api, count in rows:
            self._child(self.rows, api).observe(count)
        for (version, label), count in classes.items():
            self._child(self.predictions, version, label).inc(count)
        waiting, self._waiting, self._waiting_rows = self._waiting, [], 0
        if waiting:
            for feature, counts in count_values(waiting, self._domain).items():
                for value, count in counts.items():
                    if count:
                        self._input_value[feature][value].inc(count)
