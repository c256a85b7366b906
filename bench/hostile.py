"""How fast /api/v1/health answers while large invalid batches are being refused.

    python -m bench.hostile [--rounds 3]

Starts the service as the Procfile does (one worker) on 127.0.0.1, then, for ``--rounds``
rounds, sends eight concurrent requests of 10,000 empty rows each (every row invalid) while
another thread asks /api/v1/health every 20 ms; prints the health latencies (median, 99th
percentile, maximum) with and without that load, and the size of the error answers, as a
Markdown table; writes it to bench/results/hostile.md. Every loop is bounded by the number of rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.config import Settings
from bench import results as results_file
from devtools.service import RunningServer, running_server

CONCURRENT_REQUESTS = 8
ROWS = 10_000


def health_latencies(server: RunningServer, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        with urllib.request.urlopen(f"{server.base_url}{Settings().API_V1_STR}/health", timeout=30) as response:
            response.read()
        out.append(time.perf_counter() - started)
        time.sleep(0.02)


def invalid_batch(server: RunningServer, body: bytes, sizes: list[int]) -> None:
    request = urllib.request.Request(
        f"{server.base_url}{Settings().API_V1_STR}/predict", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        sizes.append(len(error.read()))


def table_row(label: str, latencies: list[float], sizes: list[int]) -> str:
    """A Markdown row: the health checks' latencies under ``label``, and the refusals' sizes if any."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    refusals = f"{len(sizes)} of {min(sizes):,}-{max(sizes):,} bytes" if sizes else ""
    return (
        f"| {label} | {len(ordered)} | {statistics.median(ordered) * 1e3:.1f} ms | {p99 * 1e3:.1f} ms "
        f"| {ordered[-1] * 1e3:.1f} ms | {refusals} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = json.dumps({"inputs": [{}] * ROWS}).encode()
    with tempfile.TemporaryDirectory() as scratch:
        # exec: the server is the shell's process, so stopping it stops the service, not only the shell.
        command = ["exec", sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", "$PORT"]
        lines = [
            "| while | health checks | median | p99 | max | error answers |",
            "|---|--:|--:|--:|--:|---|",
        ]
        with running_server(Path(scratch) / "server.log", command=["sh", "-c", " ".join(command)]) as server:
            for label, loaded in (("idle", False), (f"{CONCURRENT_REQUESTS} x {ROWS:,} invalid rows in flight", True)):
                latencies: list[float] = []
                sizes: list[int] = []
                stop = threading.Event()
                checker = threading.Thread(target=health_latencies, args=(server, stop, latencies))
                checker.start()
                for _ in range(args.rounds):
                    if loaded:
                        senders = [
                            threading.Thread(target=invalid_batch, args=(server, body, sizes))
                            for _ in range(CONCURRENT_REQUESTS)
                        ]
                        for sender in senders:
                            sender.start()
                        for sender in senders:
                            sender.join()
                    else:
                        time.sleep(1.0)
                stop.set()
                checker.join()
                lines.append(table_row(label, latencies, sizes))
    tables = "\n".join(lines)
    print(f"{tables}\nresults: {results_file.write('hostile', 'bench.hostile', tables)}")


if __name__ == "__main__":
    main()
