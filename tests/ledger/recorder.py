"""A worker stand-in for the crash tests: records batches in a loop, printing each request id once recorded.

``python -m tests.ledger.recorder DATA_DIR [LEDGER_URL]``: a line on stdout is an answer the
client got, so every printed id must reach the database, whatever kills this process.
"""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from app.ledger import Ledger
from app.ledger.metrics import LedgerMetrics
from devtools.ledger_batches import answered
from tests.ledger.conftest import ledger_settings

ROWS_PER_BATCH = (1, 7, 100)


def main() -> None:
    data_dir = Path(sys.argv[1])
    url = sys.argv[2] if len(sys.argv) > 2 else None
    ledger = Ledger.open(ledger_settings(url, data_dir), LedgerMetrics(CollectorRegistry()))
    assert ledger is not None
    generator = random.Random()
    # Bounded: the test kills this process long before the last batch.
    for index in itertools.islice(itertools.count(), 1_000_000):
        size = ROWS_PER_BATCH[index % len(ROWS_PER_BATCH)]
        request_id = f"{generator.getrandbits(128):032x}"
        ledger.record(answered(request_id, [generator.randrange(1728) for _ in range(size)]))
        print(request_id, size, flush=True)


if __name__ == "__main__":
    main()
