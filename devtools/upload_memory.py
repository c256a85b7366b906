"""What the upload's memory benchmark and test share: files of cars, an upload, and a worker's resident memory.

A worker's memory is its resident set size (RSS) as the kernel counts it (``/proc``, so Linux
only), sampled by a thread while an upload runs: the peak and the value some time after the answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from car_evaluation_model.processing.data_manager import load_dataset

MB = 1_000_000  # the goals' unit
UPLOAD_PATH = "/api/v1/predict/file"
MEDIA_TYPES = {".csv": "text/csv", ".parquet": "application/vnd.apache.parquet"}
SAMPLE_SECONDS = 0.02
# How long memory is left to settle after an answer before it is read.
SETTLE_SECONDS = 1.0


def cars(rows: int) -> pa.Table:
    """The data set's rows repeated (and cut) to ``rows`` rows."""
    data = pa.Table.from_pandas(load_dataset(), preserve_index=False)
    return pa.concat_tables([data] * -(-rows // data.num_rows)).slice(0, rows).combine_chunks()


def write_cars(directory: Path, rows: int, suffixes: Sequence[str] = (".csv", ".parquet")) -> list[Path]:
    """``rows`` cars written as ``cars-<rows>.csv`` and ``.parquet`` (as ``suffixes`` says) in ``directory``."""
    table = cars(rows)
    paths = []
    for suffix in suffixes:
        path = directory / f"cars-{rows}{suffix}"
        if suffix == ".csv":
            pa_csv.write_csv(table, path)
        else:
            pq.write_table(table, path)
        paths.append(path)
    return paths


@dataclass
class Upload:
    status: int
    rows: str | None  # the X-Rows header
    answer_bytes: int
    seconds: float


def upload(base_url: str, path: Path, timeout: float = 300) -> Upload:
    """``path`` posted to the upload route, its answer read (and dropped) as it comes."""
    started = time.monotonic()
    with path.open("rb") as file:
        files = {"file": (path.name, file, MEDIA_TYPES[path.suffix])}
        with httpx2.stream("POST", f"{base_url}{UPLOAD_PATH}", files=files, timeout=timeout) as response:
            size = sum(len(chunk) for chunk in response.iter_bytes())
            return Upload(response.status_code, response.headers.get("X-Rows"), size, time.monotonic() - started)


def rss(pid: int) -> int:
    """The process's resident set size in bytes (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError(pid)


def workers_of(pid: int) -> list[int]:
    """The uvicorn workers of the server process ``pid`` (children started by multiprocessing's spawn), else itself."""
    children = [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]
    workers = [child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
    return workers or [pid]


@dataclass
class PeakSampler:
    """The highest RSS of each of ``pids`` while it runs (a thread reads them every few milliseconds)."""

    pids: list[int]
    peaks: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                self.peaks[pid] = max(self.peaks.get(pid, 0), rss(pid))
            time.sleep(SAMPLE_SECONDS)

    @contextmanager
    def running(self) -> Iterator[PeakSampler]:
        self.peaks = {pid: rss(pid) for pid in self.pids}
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


@dataclass(frozen=True)
class MemoryUse:
    """One worker's RSS before an upload, at its peak during it, and after the answer."""

    idle: int
    peak: int
    after: int

    @property
    def growth(self) -> int:
        return self.peak - self.idle

    @property
    def left(self) -> int:
        return self.after - self.idle


def measured_upload(base_url: str, pid: int, path: Path) -> tuple[Upload, MemoryUse]:
    """``path`` uploaded to the one-worker server ``pid``, with that worker's memory before, during and after."""
    idle = rss(pid)
    with PeakSampler([pid]).running() as sampler:
        answer = upload(base_url, path)
    time.sleep(SETTLE_SECONDS)
    after = rss(pid)
    return answer, MemoryUse(idle, max(sampler.peaks[pid], after), after)
