"""A real Prometheus scrapes a stand-in target and its drift rule gives the hand-computed distances."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector, CollectorRegistry

from car_evaluation_model.config.core import config
from devtools.processes import free_port
from devtools.prometheus import running_prometheus

ALLOWED_VALUES = config.model.allowed_values

# 60 rows, counted per feature value. Expected total variation distance from the training
# shares (each car once: 1/4 per value of buying, maint, doors; 1/3 of persons, lug_boot, safety),
# 0.5 * sum over values |share - training share|:
#   buying   0, 12, 12, 36 -> shares 0, .2, .2, .6    0.5 * (.25 + .05 + .05 + .35)   = 0.35
#   maint    15 each       -> the training mix          0
#   doors    30, 30, 0, 0  -> shares .5, .5, 0, 0      0.5 * (.25 + .25 + .25 + .25)  = 0.5
#   persons  20 each       -> the training mix          0
#   lug_boot 10, 20, 30    -> shares 1/6, 1/3, 1/2     0.5 * (1/6 + 0 + 1/6)          = 1/6
#   safety   60, 0, 0      -> shares 1, 0, 0           0.5 * (2/3 + 1/3 + 1/3)        = 2/3
SKEWED_MIX = {
    "buying": {"low": 0, "med": 12, "high": 12, "vhigh": 36},
    "maint": {"low": 15, "med": 15, "high": 15, "vhigh": 15},
    "doors": {"2": 30, "3": 30, "4": 0, "5more": 0},
    "persons": {"2": 20, "4": 20, "more": 20},
    "lug_boot": {"small": 10, "med": 20, "big": 30},
    "safety": {"low": 60, "med": 0, "high": 0},
}
EXPECTED_DISTANCE = {"buying": 0.35, "maint": 0.0, "doors": 0.5, "persons": 0.0, "lug_boot": 1 / 6, "safety": 2 / 3}


class StandInTarget(Collector):
    """The service's input counters and training shares, with counts set by the test.

    ``counts`` is replaced whole, never updated in place, so no scrape sees half a mix.
    """

    def __init__(self) -> None:
        self.counts = {feature: dict.fromkeys(values, 0) for feature, values in ALLOWED_VALUES.items()}

    def collect(self) -> Iterable[Metric]:
        counts = self.counts
        inputs = CounterMetricFamily(
            "car_evaluation_input_values", "Rows seen per feature value", labels=["feature", "value"]
        )
        training = GaugeMetricFamily(
            "car_evaluation_training_value_ratio",
            "Share of training rows per feature value",
            labels=["feature", "value"],
        )
        for feature, values in ALLOWED_VALUES.items():
            for value in values:
                inputs.add_metric([feature, value], counts[feature][value])
                training.add_metric([feature, value], 1 / len(values))
        return [inputs, training]


@pytest.fixture
def stand_in_target() -> Iterator[tuple[StandInTarget, str]]:
    target = StandInTarget()
    registry = CollectorRegistry()
    registry.register(target)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield target, f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_skewed_mix_has_the_hand_computed_distance(
    prometheus_binary: str, stand_in_target: tuple[StandInTarget, str], tmp_path: Path
) -> None:
    assert all(sum(counts.values()) == 60 for counts in SKEWED_MIX.values())
    assert {feature: set(counts) for feature, counts in SKEWED_MIX.items()} == {
        feature: set(values) for feature, values in ALLOWED_VALUES.items()
    }
    target, address = stand_in_target
    with running_prometheus([address], tmp_path, binary=prometheus_binary) as prometheus:
        # No rows yet. Once two scrapes give a row count of 0, the same rule run (the distance
        # is computed before the row count) recorded no distance: not NaN, nothing at all.
        idle_rows = prometheus.wait_for("car_evaluation:input_rows:1h")
        assert {sample.labels["feature"]: sample.value for sample in idle_rows} == dict.fromkeys(ALLOWED_VALUES, 0.0)
        assert prometheus.query("car_evaluation:input_drift_tvd:1h") == []

        target.counts = SKEWED_MIX
        # The first distance recorded already covers the whole mix: every increase runs from the
        # zero scrapes to a scrape of the whole mix.
        distance = prometheus.wait_for("car_evaluation:input_drift_tvd:1h")

    assert {sample.labels["feature"]: sample.value for sample in distance} == pytest.approx(EXPECTED_DISTANCE, abs=1e-9)
