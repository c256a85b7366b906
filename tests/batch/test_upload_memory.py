"""An upload's memory, in a real uvicorn worker: bounded while the file is scored, given back after.

The goals (bench/upload_memory.py measures them on 1,000,000 rows): an upload adds at most
``GROWTH_BOUND`` to the worker's peak resident memory over idle and leaves it within
``LEFT_BOUND`` of idle. A file scored in bounded memory takes no more for fewer rows, so a
smaller file, uploaded twice, must meet both: once scored whole in memory, it did not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.service import running_server
from devtools.upload_memory import MB, measured_upload, upload, workers_of, write_cars

ROWS = 200_000
GROWTH_BOUND = 150 * MB
LEFT_BOUND = 30 * MB

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from Linux's /proc")


def test_an_upload_takes_bounded_memory_and_gives_it_back(tmp_path: Path) -> None:
    warm_ups = write_cars(tmp_path, 100)
    [large] = write_cars(tmp_path, ROWS, [".csv"])
    with running_server(tmp_path / "server.log", env={"LEDGER_URL": "off"}) as server:
        [worker] = workers_of(server.process.pid)
        for path in warm_ups:  # what any first upload loads once (the readers, the thread pool's threads)
            assert upload(server.base_url, path).status == 200
        first, first_use = measured_upload(server.base_url, worker, large)
        second, second_use = measured_upload(server.base_url, worker, large)
    assert (first.status, first.rows, second.status, second.rows) == (200, str(ROWS), 200, str(ROWS))
    peaks = f"{first_use.peak / MB:.0f}, {second_use.peak / MB:.0f}"
    print(f"\nidle {first_use.idle / MB:.0f} MB; peaks {peaks} MB; after {second_use.after / MB:.0f} MB")
    assert second_use.after - first_use.idle <= LEFT_BOUND
    assert first_use.growth <= GROWTH_BOUND
    assert second_use.growth <= GROWTH_BOUND
