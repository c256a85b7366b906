"""Capacity on this machine: the service with 2 uvicorn workers against 1, and memory per worker.

    python -m bench.capacity [--seconds 5]

For each worker count, the service's own start command, ``python -m app --workers N``, serves on 127.0.0.1 (not pinned:
the workers spread over the cores) and wrk (bench/run.py's settings: one thread on core 1,
16 connections) posts 1-row and 1000-row requests for ``--seconds`` each. On a 2-core machine
wrk shares a core with a worker, so the 2-worker figure understates what 2 dedicated cores give.
Prints req/s, rows/s, p99, and the resident memory (VmRSS) of every process of the server,
read after the runs, as Markdown tables; writes them to bench/results/capacity.md.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.config import Settings
from bench import results as results_file
from bench.run import CONNECTIONS, ensure_wrk, request_body, run_wrk, wrk_script
from devtools.processes import free_port
from devtools.service import running_server

WORKER_COUNTS = (1, 2)
ROW_COUNTS = (1, 1000)


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid] + [descendant for child in children for descendant in process_tree(int(child))]


def resident_bytes(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) * 1024 if match else 0


def measure(workers: int, *, wrk: str, scripts: dict[int, Path], seconds: int, logs: Path) -> dict[str, Any]:
    port = free_port()
    command = [
        *(sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", str(workers), "--no-access-log", "--log-level", "warning"),
    ]
    with running_server(logs / f"workers-{workers}.log", command=command, port=port) as server:
        url = f"{server.base_url}{Settings().API_V1_STR}/predict"
        runs = {}
        for rows, script in scripts.items():
            run_wrk(wrk, url, script, 1)  # warm-up: every worker has answered
            run = run_wrk(wrk, url, script, seconds)
            run["rows_per_s"] = run["requests_per_s"] * rows
            runs[rows] = run
            print(f"  {workers} worker(s) {rows:>5} rows: {run['requests_per_s']:>9.0f} req/s", flush=True)
        rss = {pid: resident_bytes(pid) for pid in process_tree(server.process.pid)}
    return {"workers": workers, "runs": runs, "rss_bytes": rss}


def report(results: list[dict[str, Any]], *, seconds: int) -> str:
    """Markdown: throughput per worker count and request size, then each process's resident memory."""
    lines = [
        f"`python -m app --workers N`, wrk on core 1 ({CONNECTIONS} connections), {seconds} s per point.",
        "",
        "| workers | rows/request | req/s | rows/s | p99 | x 1 worker |",
        "|--:|--:|--:|--:|--:|--:|",
    ]
    for rows in ROW_COUNTS:
        one = results[0]["runs"][rows]["requests_per_s"]
        for result in results:
            run = result["runs"][rows]
            lines.append(
                f"| {result['workers']} | {rows:,} | {run['requests_per_s']:,.0f} | {run['rows_per_s']:,.0f} "
                f"| {run['p99_s'] * 1e3:.2f} ms | {run['requests_per_s'] / one:.2f} |"
                + (f" ({run['non_2xx']} non-2xx!)" if run["non_2xx"] else "")
            )
    lines += ["", "| workers | resident memory | processes (MB each) |", "|--:|--:|---|"]
    for result in results:
        sizes = [f"{size / 2**20:.0f}" for size in result["rss_bytes"].values()]
        total = sum(result["rss_bytes"].values()) / 2**20
        lines.append(f"| {result['workers']} | {total:.0f} MB | {len(sizes)}: {' + '.join(sizes)} |")
    extra = (sum(results[-1]["rss_bytes"].values()) - sum(results[0]["rss_bytes"].values())) / 2**20
    per_worker = extra / (results[-1]["workers"] - results[0]["workers"])
    lines += ["", f"Each extra worker: {per_worker:.0f} MB."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per point (default 5)")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("the capacity benchmark needs two cores")
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        scripts = {rows: wrk_script(request_body(rows), directory, str(rows)) for rows in ROW_COUNTS}
        results = [
            measure(workers, wrk=wrk, scripts=scripts, seconds=args.seconds, logs=directory)
            for workers in WORKER_COUNTS
        ]
    tables = report(results, seconds=args.seconds)
    print(f"\n{tables}\nresults: {results_file.write('capacity', 'bench.capacity', tables)}")


if __name__ == "__main__":
    main()
