"""The ledger's Prometheus metrics, in the registry the service exposes (multiprocess-aware).

The hot path only adds to plain integers of the spool; the writer thread publishes them here
at every pass, so recording a batch never takes prometheus-client's lock.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class LedgerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry
        self.spool_bytes = Gauge(
            "car_evaluation_ledger_spool_bytes",
            "Bytes of recorded predictions in a worker's spool not yet in the database (the fullest worker's).",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.spool_max_bytes = Gauge(
            "car_evaluation_ledger_spool_max_bytes",
            "The bound of a worker's spool (LEDGER_SPOOL_MAX_BYTES).",
            multiprocess_mode="max",
            registry=registry,
        )
        self.written = Counter(
            "car_evaluation_ledger_records_written",
            "Predictions written into the ledger's database.",
            registry=registry,
        )
        self.lag = Gauge(
            "car_evaluation_ledger_write_lag_seconds",
            "Age of the oldest recorded prediction not yet in the database; 0 when none waits.",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.not_recorded = Counter(
            "car_evaluation_ledger_records_not_recorded",
            "Predictions answered but not recorded: the spool was at its bound (LEDGER_WHEN_FULL=count).",
            registry=registry,
        )
        self.refused_rows = Counter(
            "car_evaluation_ledger_refused_rows",
            "Rows refused (not predicted), counted by the ledger, not recorded.",
            registry=registry,
        )
        self.write_errors = Counter(
            "car_evaluation_ledger_write_errors",
            "Failed attempts to write the spool into the database (it is retried).",
            registry=registry,
        )
