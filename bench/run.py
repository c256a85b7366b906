"""Side-by-side HTTP benchmark of the service against its ceiling, its floor and the article.

    python -m bench.run [--quick] [--baseline CHECKOUT [--baseline-python PYTHON]]

Each server runs as one uvicorn worker pinned to core 0 (taskset); wrk runs pinned to core 1
with 16 connections, for 1-, 100- and 1000-row requests, the servers in turn, in rounds (on a
shared machine, the ratios between servers measured in one run are what to read). Every run
is bounded by wrk's duration. The service records into its ledger (embedded, and on a
PostgreSQL server the run starts) in the variants that measure the ledger only; after each of
their runs, the next waits until the ledger's writer has caught up, so that its writing does
not fall on the next server's measure. Prints req/s, rows/s, p50/p99 latency, ratios to the FastAPI ceiling (1) and the
raw ASGI floor (2), peak RSS and start-up time, then the in-process micro-benchmark, as
Markdown tables; writes them to bench/results/run.md (which the documentation includes) and
the raw figures as JSON beside it. ``--baseline`` adds the service of another checkout, as
(0), for a before-and-after comparison in one interleaved run. A --quick run is a trial: its tables go to
bench/results/quick/run.md (not committed), never over the committed run.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import Settings
from app.ledger.settings import LedgerSettings
from app.ledger.store import open_store
from app.schemas.predict import ARTICLE_EXAMPLE
from bench import micro
from bench import results as results_file
from car_evaluation_model.processing.data_manager import load_dataset
from devtools import REPO_ROOT
from devtools.postgres import pg_bin, running_postgres
from devtools.service import running_server

ROW_COUNTS = (1, 100, 1000)
CONNECTIONS = 16
SERVER_CORE, LOAD_CORE = "0", "1"


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() != 0:
        sys.exit("wrk is missing: install it with `sudo apt-get install -y wrk`")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def request_rows(rows: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = load_dataset().drop(columns="class").to_dict(orient="records")  # type: ignore[assignment]
    return list(ARTICLE_EXAMPLE["inputs"][:1]) if rows == 1 else (records * (rows // len(records) + 1))[:rows]


def request_body(rows: int) -> str:
    return json.dumps({"inputs": request_rows(rows)})


def v2_body(rows: int) -> str:
    """The same rows as an Open Inference Protocol request: one BYTES tensor per feature."""
    chosen = request_rows(rows)
    inputs = [
        {"name": name, "shape": [rows, 1], "datatype": "BYTES", "data": [str(row[name]) for row in chosen]}
        for name in chosen[0]
    ]
    return json.dumps({"inputs": inputs})


@dataclass(frozen=True)
class Server:
    """A server to measure: how to start it (``$PORT`` is its port), where to post, what."""

    command: str
    path: str = f"{Settings().API_V1_STR}/predict"
    env: dict[str, str] = field(default_factory=dict)
    body: Callable[[int], str] = request_body
    ledger_on_postgres: bool = False  # LEDGER_URL: a PostgreSQL server the run starts
    python: str = sys.executable
    cwd: Path = REPO_ROOT


def uvicorn(target: str) -> str:
    return f"-m uvicorn {target} --host 127.0.0.1 --port $PORT --no-access-log --log-level warning"


# The service as the Procfile starts it (python -m app: one worker here, which keeps its
# metrics in memory; access log, metrics and the ledger's embedded default on).
SERVICE = "-m app --host 127.0.0.1 --port $PORT"
LEDGER_OFF = {"LEDGER_URL": "off"}
SERVERS = {
    "(1) FastAPI constant": Server(uvicorn("bench.apps.constant:app")),
    "(2) raw ASGI": Server(uvicorn("bench.apps.raw_asgi:app")),
    "(3) this service": Server(SERVICE),
    # What recording every prediction costs: the ledger off, and on PostgreSQL.
    "(3o) ledger off": Server(SERVICE, env=LEDGER_OFF),
    "(3pg) ledger on PostgreSQL": Server(SERVICE, ledger_on_postgres=True),
    # Like (1), no access log: what the service itself costs. Then the same without metrics.
    # These and the other routes without the ledger, whose writing would fall on the next server.
    "(3q) no access log": Server(SERVICE, env={"ACCESS_LOG": "false", **LEDGER_OFF}),
    "(3m) no log, no metrics": Server(SERVICE, env={"ACCESS_LOG": "false", "METRICS_ENABLED": "false", **LEDGER_OFF}),
    # Ledger off, a response's head and body in two sends, as uvicorn writes them: what one send earns.
    "(3w) head and body sent apart": Server(
        f"{SERVICE} --http bench.apps.separate_writes:SeparateWritesProtocol", env=LEDGER_OFF
    ),
    "(3v2) v2 infer": Server(SERVICE, path="/v2/models/car-evaluation/infer", body=v2_body, env=LEDGER_OFF),
    "(3e) explain": Server(SERVICE, path=f"{Settings().API_V1_STR}/explain", env=LEDGER_OFF),
    "(4) article-style pipeline": Server(uvicorn("bench.apps.article:app")),
}


def baseline(checkout: Path, python: Path | None) -> dict[str, Server]:
    """The service of another checkout (a commit before a change), run by its own environment's Python."""
    revision = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    python = python or checkout / ".tox" / "test" / "bin" / "python"
    if not python.exists():
        sys.exit(f"no Python at {python}: build its environment (tox -e test --notest) or give --baseline-python")
    return {f"(0) before: {revision}": Server(SERVICE, env=LEDGER_OFF, python=str(python), cwd=checkout)}


def wrk_script(body: str, directory: Path, name: str) -> Path:
    script = directory / f"post_{name}.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[{body}]==]\n',
        encoding="utf-8",
    )
    return script


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_wrk(output: str) -> dict[str, Any]:
    def latency(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        return float(match.group(1)) * UNITS[match.group(2)] if match else float("nan")

    requests = re.search(r"Requests/sec:\s+([\d.]+)", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests_per_s": float(requests.group(1)) if requests else 0.0,
        "p50_s": latency("50"),
        "p99_s": latency("99"),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def run_wrk(wrk: str, url: str, script: Path, seconds: int) -> dict[str, Any]:
    command = [
        "taskset",
        "-c",
        LOAD_CORE,
        wrk,
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    return parse_wrk(output)


def peak_rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 if match else 0


@dataclass
class Started:
    """A server of the run, started: where to post each body, and what it cost to start."""

    url: str
    scripts: dict[int, Path]
    pid: int
    startup_s: float
    env: dict[str, str]
    records: bool  # its ledger is on


DRAIN_TIMEOUT_S = 300


def wait_until_recorded(server: Started) -> None:
    """Until the server's ledger has written its spool: its writer would otherwise run on beside the next server.

    Read from the spool files and the database's progress, not from ``/metrics``, whose live
    performance would have the service query the whole ledger.
    """
    ledger = LedgerSettings(**server.env)  # type: ignore[arg-type]
    store = open_store(ledger.database_url() or sys.exit("the ledger is off"))
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            unwritten = sum(
                path.stat().st_size - store.written_bytes(path.name) for path in ledger.spool_dir().glob("*.spool")
            )
            if unwritten <= 0:
                return
            time.sleep(0.2)
    finally:
        store.engine.dispose()
    sys.exit(f"the ledger of {server.url} did not write its spool within {DRAIN_TIMEOUT_S} s")


def start_server(name: str, spec: Server, stack: ExitStack, logs: Path, postgres_url: str | None) -> Started:
    command = f"exec taskset -c {SERVER_CORE} {shlex.quote(spec.python)} {spec.command}"
    slug = re.sub(r"\W+", "-", name).strip("-")
    scripts = {rows: wrk_script(spec.body(rows), logs, f"{slug}-{rows}") for rows in ROW_COUNTS}
    env = {"LEDGER_DATA_DIR": str(logs / slug), **spec.env}  # each its own spool and embedded ledger
    if spec.ledger_on_postgres:
        env["LEDGER_URL"] = postgres_url or sys.exit("no PostgreSQL server")
    started = time.perf_counter()
    server = stack.enter_context(
        running_server(logs / f"{slug}.log", command=["sh", "-c", command], env=env, cwd=spec.cwd)
    )
    return Started(
        f"{server.base_url}{spec.path}",
        scripts,
        server.process.pid,
        time.perf_counter() - started,
        env,
        records=spec.command == SERVICE and env.get("LEDGER_URL") != "off",
    )


def bench_servers(
    specs: dict[str, Server], *, wrk: str, rounds: int, seconds: int, logs: Path
) -> dict[str, dict[str, Any]]:
    """Every server measured in turn, ``rounds`` times over, ``seconds`` each time.

    All servers run at once (idle but for the one under load): interleaved, a change in the
    machine's other load while the run lasts falls on every server alike, and the ratios
    between them hold. Requests per second are the total over all rounds; the latency
    percentiles are the median of the rounds'.
    """
    with ExitStack() as stack:
        postgres_url = None
        if any(spec.ledger_on_postgres for spec in specs.values()):
            bin_dir = pg_bin() or sys.exit(
                "PostgreSQL is missing: install it with `sudo apt-get install -y postgresql`"
            )
            postgres_url = stack.enter_context(running_postgres(bin_dir)).url
        servers = {name: start_server(name, spec, stack, logs, postgres_url) for name, spec in specs.items()}
        for server in servers.values():
            for script in server.scripts.values():
                run_wrk(wrk, server.url, script, 1)  # warm-up
            if server.records:
                wait_until_recorded(server)
        slices: dict[str, dict[int, list[dict[str, Any]]]] = {name: {rows: [] for rows in ROW_COUNTS} for name in specs}
        for round_number in range(rounds):
            for rows in ROW_COUNTS:
                for name, server in servers.items():
                    slices[name][rows].append(run_wrk(wrk, server.url, server.scripts[rows], seconds))
                    if server.records:
                        wait_until_recorded(server)
            print(f"  round {round_number + 1} of {rounds} done", flush=True)
        return {
            name: {
                "command": specs[name].command,
                "env": specs[name].env,
                "startup_s": server.startup_s,
                "peak_rss_bytes": peak_rss_bytes(server.pid),
                "runs": {rows: combined(slices[name][rows], rows) for rows in ROW_COUNTS},
            }
            for name, server in servers.items()
        }


def combined(runs: list[dict[str, Any]], rows: int) -> dict[str, Any]:
    requests_per_s = statistics.fmean(run["requests_per_s"] for run in runs)  # equal durations
    return {
        "requests_per_s": requests_per_s,
        "rows_per_s": requests_per_s * rows,
        "p50_s": statistics.median(run["p50_s"] for run in runs),
        "p99_s": statistics.median(run["p99_s"] for run in runs),
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": [run["socket_errors"] for run in runs if run["socket_errors"]],
    }


def report(results: dict[str, dict[str, Any]], *, rounds: int, seconds: int) -> str:
    """Markdown: every server at each request size, with ratios to (1) and (2); then memory and start-up."""
    ceiling, floor = results["(1) FastAPI constant"], results["(2) raw ASGI"]
    lines = [
        f"HTTP: one uvicorn worker on core 0, wrk on core 1, {CONNECTIONS} connections, "
        f"{rounds} round(s) of {seconds} s per server, interleaved.",
        "",
        "| server | rows/request | req/s | rows/s | p50 | p99 | x (1) | x (2) | p99 x (1) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for rows in ROW_COUNTS:
        for name, result in results.items():
            run = result["runs"][rows]
            lines.append(
                f"| {name} | {rows:,} | {run['requests_per_s']:,.0f} | {run['rows_per_s']:,.0f} "
                f"| {run['p50_s'] * 1e3:.2f} ms | {run['p99_s'] * 1e3:.2f} ms "
                f"| {run['requests_per_s'] / ceiling['runs'][rows]['requests_per_s']:.2f} "
                f"| {run['requests_per_s'] / floor['runs'][rows]['requests_per_s']:.2f} "
                f"| {run['p99_s'] / ceiling['runs'][rows]['p99_s']:.2f} |"
                + (f" ({run['non_2xx']} non-2xx!)" if run["non_2xx"] else "")
            )
    lines += ["", "| server | peak RSS | start-up to healthy |", "|---|--:|--:|"]
    for name, result in results.items():
        lines.append(f"| {name} | {result['peak_rss_bytes'] / 2**20:.0f} MB | {result['startup_s']:.2f} s |")
    return "\n".join(lines)


def report_targets(checked: list[tuple[str, bool, str]]) -> str:
    lines = ["| target | met | measured |", "|---|---|---|"]
    lines += [f"| {label} | {'yes' if met else '**no**'} | {value} |" for label, met, value in checked]
    return "\n".join(lines)


def targets(results: dict[str, dict[str, Any]], in_process: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    service, ceiling, floor = results["(3) this service"], results["(1) FastAPI constant"], results["(2) raw ASGI"]

    def ratio(
        rows: int, reference: dict[str, Any], key: str = "requests_per_s", measured: dict[str, Any] = service
    ) -> float:
        return float(measured["runs"][rows][key] / reference["runs"][rows][key])

    quiet, metrics_off, v2, ledger_off, ledger_postgres, sent_apart = (
        results["(3q) no access log"],
        results["(3m) no log, no metrics"],
        results["(3v2) v2 infer"],
        results["(3o) ledger off"],
        results["(3pg) ledger on PostgreSQL"],
        results["(3w) head and body sent apart"],
    )
    micro_by_rows = {r["rows"]: r["make_prediction_s"] for r in in_process}
    checks = [
        ("1-row req/s >= 1x ceiling (1)", ratio(1, ceiling), 1.0, ">="),
        ("1-row req/s >= 1x ceiling (1), no access log like (1)", ratio(1, ceiling, measured=quiet), 1.0, ">="),
        ("1000-row rows/s >= 2.5x ceiling (1)", ratio(1000, ceiling), 2.5, ">="),
        ("1000-row rows/s >= 0.5x floor (2)", ratio(1000, floor), 0.5, ">="),
        ("1-row p99 <= 1.5x ceiling's p99", ratio(1, ceiling, "p99_s"), 1.5, "<="),
        ("metrics cost: 1-row req/s >= 0.9x metrics off", ratio(1, metrics_off, measured=quiet), 0.9, ">="),
        (
            "one send per answer: 1-row req/s >= 1.1x head and body sent apart",
            ratio(1, sent_apart, measured=ledger_off),
            1.1,
            ">=",
        ),
        ("v2 infer 1-row req/s >= 0.5x /api/v1", ratio(1, service, measured=v2), 0.5, ">="),
        ("v2 infer 1000-row rows/s >= 1.0x /api/v1", ratio(1000, service, measured=v2), 1.0, ">="),
        ("ledger, embedded: 1-row req/s >= 0.9x ledger off", ratio(1, ledger_off), 0.9, ">="),
        ("ledger, embedded: 1000-row rows/s >= 0.8x ledger off", ratio(1000, ledger_off), 0.8, ">="),
        (
            "ledger, PostgreSQL: 1-row req/s >= 0.9x ledger off",
            ratio(1, ledger_off, measured=ledger_postgres),
            0.9,
            ">=",
        ),
        (
            "ledger, PostgreSQL: 1000-row rows/s >= 0.8x ledger off",
            ratio(1000, ledger_off, measured=ledger_postgres),
            0.8,
            ">=",
        ),
        ("make_prediction 1 row <= 20 us", micro_by_rows[1] * 1e6, 20, "<="),
        ("make_prediction 1000 rows <= 1 ms", micro_by_rows[1000] * 1e3, 1, "<="),
        ("make_prediction 100k rows <= 100 ms", micro_by_rows[100_000] * 1e3, 100, "<="),
        ("service peak RSS <= 250 MB", service["peak_rss_bytes"] / 2**20, 250, "<="),
        ("service start-up to healthy <= 3 s", service["startup_s"], 3, "<="),
    ]
    return [
        (label, value >= bound if op == ">=" else value <= bound, f"{value:.2f} (target {op} {bound})")
        for label, value, bound, op in checks
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one round instead of five (about 2 minutes), written to bench/results/quick/run.md, not run.md",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "bench" / "results",
        help="where the raw figures (bench-<time>.json) go; the tables always go to bench/results/run.md "
        "(with --quick, bench/results/quick/run.md)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="CHECKOUT",
        help="also measure the service of this checkout (say, a git worktree of main before a change), interleaved",
    )
    parser.add_argument(
        "--baseline-python",
        type=Path,
        metavar="PYTHON",
        help="the Python of the checkout's environment (default: CHECKOUT/.tox/test/bin/python)",
    )
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("the benchmark needs two cores: one for the server, one for wrk")
    wrk = ensure_wrk()
    seconds, rounds = 2, 1 if args.quick else 5
    with tempfile.TemporaryDirectory() as scratch:
        specs = {**(baseline(args.baseline, args.baseline_python) if args.baseline else {}), **SERVERS}
        results = bench_servers(specs, wrk=wrk, rounds=rounds, seconds=seconds, logs=Path(scratch))
    in_process = micro.run(quick=args.quick)
    explained = micro.run_explain(quick=args.quick)
    checked = targets(results, in_process)

    tables = "\n\n".join(
        [
            report(results, rounds=rounds, seconds=seconds),
            micro.report(in_process),
            micro.report_explain(explained),
            report_targets(checked),
        ]
    )
    print(tables)
    directory = results_file.QUICK_RESULTS_DIR if args.quick else results_file.RESULTS_DIR
    written = results_file.write("run", "bench.run", tables, directory=directory)
    print(f"\nresults: {written.relative_to(REPO_ROOT)}")

    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {
                "seconds_per_run": seconds,
                "rounds": rounds,
                "connections": CONNECTIONS,
                "http": results,
                "in_process": in_process,
                "explain": explained,
                "targets": [{"target": label, "met": met, "value": value} for label, met, value in checked],
            },
            indent=2,
        )
    )
    print(f"raw figures: {out}")


if __name__ == "__main__":
    main()
