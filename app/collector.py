"""The garbage collector while the app runs: the loaded model out of its way, fewer young collections.

What is loaded at start lives as long as the app, so ``gc.freeze`` keeps the collector from
walking it again and again; a request allocates thousands of objects that reference counting
frees, so a young-generation collection every 10,000 allocations (CPython's default is 700)
finds as much for less work. The collector is the process's, so this holds only while the app
runs (``GC_TUNING``, on by default) and is undone when it stops.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_COLLECTION_THRESHOLD = 10_000


@contextmanager
def collector_tuned(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()  # a process that builds several apps (the tests) can collect the old ones
