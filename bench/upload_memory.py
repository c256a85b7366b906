"""A worker's memory while it scores an uploaded file, and after.

    python -m bench.upload_memory [--rows 1000000] [--no-ledger-run] [--rounds 3]

Builds a CSV and a Parquet file of ``--rows`` cars (the data set's rows repeated) in a
temporary directory, removed after. Starts the service (``python -m app``, one worker, on
127.0.0.1), uploads a small file of each format once (what any first upload loads once: the
readers, the thread pool's threads), then each large file, reading the worker's resident memory
(RSS, from /proc) before, every 20 ms during and a second after the answer: with the ledger off,
then with the ledger as it is by default (SQLite, in the temporary directory). Then starts two
workers (``--workers 2``) and sends four large uploads at once (two of each format) while
another thread asks ``/api/v1/health`` every 50 ms, for ``--rounds`` rounds: the sum of the two
workers' highest peaks beside the memory limit of the Kubernetes manifest
(deploy/kubernetes/deployment.yaml), and every health answer. Prints the figures as Markdown and
writes them to bench/results/upload_memory.md.

The goals (issue 28): an upload adds at most 150 MB to the worker's peak over idle and leaves
it within 30 MB of idle; four at once fit the manifest's limit for two workers, with health
answering throughout. MB are 10^6 bytes. Memory figures, not timings: one run is enough.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx2
import yaml

from bench import results as results_file
from devtools import REPO_ROOT
from devtools.processes import free_port
from devtools.service import running_server
from devtools.upload_memory import (
    MB,
    SETTLE_SECONDS,
    MemoryUse,
    PeakSampler,
    Upload,
    measured_upload,
    rss,
    upload,
    workers_of,
    write_cars,
)

GROWTH_GOAL = 150 * MB
LEFT_GOAL = 30 * MB
MANIFEST = REPO_ROOT / "deploy" / "kubernetes" / "deployment.yaml"
HEALTH_PATH = "/api/v1/health"
HEALTH_EVERY_SECONDS = 0.05
UPLOAD_TIMEOUT_SECONDS = 600
QUANTITY = re.compile(r"(?P<number>\d+)(?P<unit>Ki|Mi|Gi|k|M|G)?")
UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def memory_limit() -> tuple[str, int]:
    """The service container's memory limit in the Kubernetes manifest, as written and in bytes."""
    for document in yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")):
        if document and document.get("kind") == "Deployment":
            [container] = document["spec"]["template"]["spec"]["containers"]
            written = str(container["resources"]["limits"]["memory"])
            match = QUANTITY.fullmatch(written)
            if match is None:
                raise ValueError(f"{MANIFEST}: cannot read the memory limit {written!r}")
            return written, int(match["number"]) * UNITS[match["unit"]]
    raise ValueError(f"{MANIFEST}: no Deployment")


def mb(size: int) -> str:
    return f"{size / MB:,.0f}"


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def one_worker(directory: Path, files: list[Path], warm_ups: list[Path], ledger: str) -> list[str]:
    """Table rows: each file uploaded to one worker, its memory before, at the peak, after."""
    env = {"LEDGER_URL": "off"} if ledger == "off" else {"LEDGER_DATA_DIR": str(directory / "ledger")}
    rows = []
    with running_server(directory / f"one-worker-{ledger}.log", env=env) as server:
        [worker] = workers_of(server.process.pid)
        for path in warm_ups:
            assert upload(server.base_url, path).status == 200, path
        for path in files:
            answer, use = measured_upload(server.base_url, worker, path)
            if answer.status != 200:
                raise RuntimeError(f"{path.name}: answered {answer.status}; see {server.log_path}")
            met = use.growth <= GROWTH_GOAL and use.left <= LEFT_GOAL
            rows.append(
                f"| {path.suffix[1:]} | {ledger} | {answer.rows} | {answer.seconds:.1f} | {mb(use.idle)} | "
                f"{mb(use.peak)} | {mb(use.after)} | {mb(use.growth)} | {mb(use.left)} | {verdict(met)} |"
            )
            print(rows[-1], flush=True)
    return rows


@dataclass
class HealthChecks:
    answered: int = 0
    failed: int = 0
    slowest: float = 0.0

    def poll(self, base_url: str, stop: threading.Event) -> None:
        with httpx2.Client(timeout=30) as client:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    ok = client.get(f"{base_url}{HEALTH_PATH}").status_code == 200
                except httpx2.HTTPError:
                    ok = False
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.answered += ok
                self.failed += not ok
                stop.wait(HEALTH_EVERY_SECONDS)


def two_workers(directory: Path, files: list[Path], warm_ups: list[Path], rounds: int) -> str:
    """Four uploads at once to two workers, ``rounds`` times: each worker's memory, the peaks' sum, health.

    Which worker takes which upload is the kernel's choice: over several rounds, each worker's
    highest peak is taken, whatever round it was in, and their sum set beside the limit.
    """
    port = free_port()
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    written_limit, limit = memory_limit()
    # The ledger on, as deployed: every answered row recorded while the next upload is scored.
    ledger = {"LEDGER_DATA_DIR": str(directory / "two-workers-ledger")}
    with running_server(directory / "two-workers.log", command=command, port=port, env=ledger) as server:
        workers = workers_of(server.process.pid)
        if len(workers) != 2:
            raise RuntimeError(f"expected two workers, found {workers}")
        for path in warm_ups * 4:  # whichever worker takes them
            assert upload(server.base_url, path).status == 200, path
        idle = {pid: rss(pid) for pid in workers}
        health, stop = HealthChecks(), threading.Event()
        poller = threading.Thread(target=health.poll, args=(server.base_url, stop), daemon=True)
        answers: list[Upload] = []
        with PeakSampler(workers).running() as sampler, ThreadPoolExecutor(max_workers=4) as pool:
            poller.start()
            started = time.monotonic()
            for _ in range(rounds):
                answers += pool.map(lambda path: upload(server.base_url, path, UPLOAD_TIMEOUT_SECONDS), files * 2)
            seconds = (time.monotonic() - started) / rounds
            stop.set()
            poller.join()
        time.sleep(SETTLE_SECONDS)
        after = {pid: rss(pid) for pid in workers}
    if any(answer.status != 200 for answer in answers):
        raise RuntimeError(f"answered {[answer.status for answer in answers]}")
    uses = {pid: MemoryUse(idle[pid], max(sampler.peaks[pid], after[pid]), after[pid]) for pid in workers}
    peaks = sum(use.peak for use in uses.values())
    lines = [
        "| worker | idle (MB) | peak (MB) | after (MB) | peak over idle (MB) | after over idle (MB) |",
        "|---|--:|--:|--:|--:|--:|",
        *(
            f"| {number} | {mb(use.idle)} | {mb(use.peak)} | {mb(use.after)} | {mb(use.growth)} | {mb(use.left)} |"
            for number, use in enumerate(uses.values(), 1)
        ),
        "",
        f"Four uploads at once (two of each format, the ledger on), {rounds} times, each time answered in "
        f"{seconds:.1f} s on average: the workers' highest peaks add up to "
        f"{mb(peaks)} MB, the manifest's limit is {written_limit} ({mb(limit)} MB): {verdict(peaks <= limit)}. "
        f"`{HEALTH_PATH}` answered {health.answered} times meanwhile, failed {health.failed} times, slowest "
        f"{health.slowest * 1000:.0f} ms: {verdict(health.failed == 0 and health.answered > 0)}.",
    ]
    print("\n".join(lines), flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each uploaded file")
    parser.add_argument("--no-ledger-run", action="store_true", help="skip the run with the ledger on")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of four uploads at once to two workers")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="upload-memory-") as temporary:
        directory = Path(temporary)
        warm_ups = write_cars(directory, 100)
        files = write_cars(directory, arguments.rows)
        sizes = ", ".join(f"{path.suffix[1:]} {path.stat().st_size / MB:.1f} MB" for path in files)
        header = [
            f"One worker, {arguments.rows:,} rows per file ({sizes}):",
            "",
            "| file | ledger | rows | seconds | idle (MB) | peak (MB) | after (MB) | peak over idle (MB) "
            "| after over idle (MB) | goals |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
        ]
        print("\n".join(header), flush=True)
        rows = one_worker(directory, files, warm_ups, "off")
        if not arguments.no_ledger_run:
            rows += one_worker(directory, files, warm_ups, "default")
        concurrent = two_workers(directory, files, warm_ups, arguments.rounds)
    goals = (
        "Goals: each upload at most 150 MB of peak over idle and at most 30 MB left after; "
        "four at once within the manifest's limit for two workers, with every health check answered."
    )
    tables = "\n".join([*header, *rows, "", concurrent, "", goals])
    path = results_file.write("upload_memory", "bench.upload_memory", tables)
    print(f"\n{goals}\nwritten to {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
