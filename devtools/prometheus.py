"""Run Debian's Prometheus on 127.0.0.1 against given targets with the repository's rules, and query it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools import REPO_ROOT
from devtools.processes import free_port, running_process

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules.yml"
JOB = "car-evaluation"


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass
class RunningPrometheus:
    base_url: str
    log_path: Path

    def query(self, expr: str) -> list[Sample]:
        """The instant vector ``expr`` evaluates to now (``/api/v1/query``)."""
        url = f"{self.base_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as error:  # a bad query: Prometheus says why in JSON
            raise ValueError(f"query {expr!r} failed: {error.read().decode()}") from error
        data = body["data"]
        if data["resultType"] != "vector":
            raise ValueError(f"query {expr!r} gave a {data['resultType']}, not an instant vector")
        return [Sample(labels=item["metric"], value=float(item["value"][1])) for item in data["result"]]

    def wait_for(self, expr: str, timeout: float = 30.0) -> list[Sample]:
        """Poll ``query(expr)`` until it has at least one sample (scrapes and rule runs take a moment)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            samples = self.query(expr)
            if samples:
                return samples
            time.sleep(0.2)
        raise TimeoutError(f"{expr!r} gave no sample within {timeout} s; log:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8")


def scrape_config(
    targets: Sequence[str],
    rule_files: Sequence[Path],
    interval: str,
    target_labels: Sequence[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A configuration scraping ``targets`` as the ``car-evaluation`` job every ``interval``.

    ``target_labels``, one per target, are added to its series (``track``: stable or canary).
    """
    static_configs: list[dict[str, Any]] = (
        [{"targets": [target], "labels": labels} for target, labels in zip(targets, target_labels, strict=True)]
        if target_labels
        else [{"targets": list(targets)}]
    )
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [{"job_name": JOB, "static_configs": static_configs}],
    }


@contextmanager
def running_prometheus(
    targets: Sequence[str],
    work_dir: Path,
    *,
    binary: str = "prometheus",
    rule_files: Sequence[Path] = (RULES,),
    interval: str = "1s",
    target_labels: Sequence[dict[str, str]] | None = None,
) -> Iterator[RunningPrometheus]:
    """Prometheus scraping ``targets`` and evaluating ``rule_files`` every ``interval``, until ready.

    Its configuration, data and log live in ``work_dir``. The drift rules need no shorter
    window for a test: a distance is a ratio of rates over one window, so a window longer than
    the data held simply uses all of it.
    """
    config_path = work_dir / "prometheus.yml"
    # JSON is YAML: no YAML writer needed.
    config_path.write_text(
        json.dumps(scrape_config(targets, rule_files, interval, target_labels), indent=2), encoding="utf-8"
    )
    base_url = f"http://127.0.0.1:{free_port()}"
    command = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={work_dir / 'data'}",
        f"--web.listen-address={base_url.removeprefix('http://')}",
    ]
    log_path = work_dir / "prometheus.log"
    with running_process(command, log_path=log_path, ready_url=f"{base_url}/-/ready"):
        yield RunningPrometheus(base_url=base_url, log_path=log_path)
