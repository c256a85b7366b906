"""Run Debian's nginx on 127.0.0.1 with the shipped config (deploy/nginx/) in front of replicas.

The shipped file is rendered, not rewritten: only its example addresses (the upstream's
``server`` lines, ``listen``) and its access log path are replaced, so the config the tests
exercise is the one users deploy. For a canary, its upstream block is canary.conf's, as
that file tells users to do, with its two example addresses replaced.
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools import REPO_ROOT
from devtools.processes import free_port, running_process

NGINX = "/usr/sbin/nginx"
SHIPPED_CONFIG = REPO_ROOT / "deploy" / "nginx" / "car-evaluation.conf"
CANARY_CONFIG = REPO_ROOT / "deploy" / "nginx" / "canary.conf"
CANARY_EXAMPLES = ("127.0.0.1:8001", "127.0.0.1:8003")  # canary.conf's stable and candidate servers
_UPSTREAM_BLOCK = re.compile(r"^upstream car_evaluation \{\n.*?^\}\n", re.MULTILINE | re.DOTALL)
EXAMPLE_LISTEN = "listen 127.0.0.1:8080;"
EXAMPLE_ACCESS_LOG = "/var/log/nginx/car-evaluation.access.log"
# The upstream's consecutive example lines; the first one's indent and parameters are kept.
_EXAMPLE_UPSTREAMS = re.compile(
    r"^( *)server 127\.0\.0\.1:\d+([^;\n]*);\n(?: *server 127\.0\.0\.1:\d+[^;\n]*;\n)*", re.MULTILINE
)


@dataclass
class RunningNginx:
    base_url: str
    access_log: Path
    error_log: Path

    def access_lines(self) -> list[str]:
        return self.access_log.read_text(encoding="utf-8").splitlines()


def render_config(shipped: str, *, listen_port: int, upstream_ports: Sequence[int] | None, access_log: Path) -> str:
    """The shipped config with its example addresses replaced; fails if they are not found.

    ``upstream_ports`` None keeps the upstream's servers (a canary block already rendered).
    """
    upstreams = list(_EXAMPLE_UPSTREAMS.finditer(shipped))
    if (
        (upstream_ports is not None and len(upstreams) != 1)
        or shipped.count(EXAMPLE_LISTEN) != 1
        or shipped.count(EXAMPLE_ACCESS_LOG) != 1
    ):
        raise ValueError(
            f"{SHIPPED_CONFIG} must hold one block of example `server 127.0.0.1:PORT ...;` lines, "
            f"one `{EXAMPLE_LISTEN}` and one access log at {EXAMPLE_ACCESS_LOG}"
        )
    rendered = shipped
    if upstream_ports is not None:
        [block] = upstreams
        indent, parameters = block.group(1), block.group(2)
        servers = "".join(f"{indent}server 127.0.0.1:{port}{parameters};\n" for port in upstream_ports)
        rendered = shipped[: block.start()] + servers + shipped[block.end() :]
    return rendered.replace(EXAMPLE_LISTEN, f"listen 127.0.0.1:{listen_port};").replace(
        EXAMPLE_ACCESS_LOG, str(access_log)
    )


def with_canary(shipped: str, canary: str, stable_port: int, candidate_port: int) -> str:
    """The shipped config with its upstream block replaced by canary.conf's, at the given ports."""
    blocks = _UPSTREAM_BLOCK.findall(canary)
    if len(blocks) != 1 or len(_UPSTREAM_BLOCK.findall(shipped)) != 1:
        raise ValueError(f"{SHIPPED_CONFIG} and {CANARY_CONFIG} must each hold one `upstream car_evaluation` block")
    [block] = blocks
    for example, port in zip(CANARY_EXAMPLES, (stable_port, candidate_port), strict=True):
        if block.count(example) != 1:
            raise ValueError(f"{CANARY_CONFIG} must name {example} once")
        block = block.replace(example, f"127.0.0.1:{port}")
    return _UPSTREAM_BLOCK.sub(lambda _: block, shipped)


def main_config(directory: Path, site: Path) -> str:
    """A minimal nginx.conf keeping the pid, logs and temp files in ``directory``."""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would run as nobody, who cannot write to a private temp dir.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return (
        f"{user}pid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} info;\n"
        "worker_processes 1;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"{temp_paths}\n"
        f"    include {site};\n"
        "}\n"
    )


@contextmanager
def running_nginx(
    directory: Path, upstream_ports: Sequence[int], ready_path: str, *, canary: bool = False
) -> Iterator[RunningNginx]:
    """nginx on a free 127.0.0.1 port in front of ``upstream_ports``; yields once ``ready_path`` answers 200.

    With ``canary``, ``upstream_ports`` are (stable, candidate) behind canary.conf's upstream.
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    access_log = directory / "access.log"
    site = directory / SHIPPED_CONFIG.name
    shipped = SHIPPED_CONFIG.read_text(encoding="utf-8")
    if canary:
        stable_port, candidate_port = upstream_ports
        shipped = with_canary(shipped, CANARY_CONFIG.read_text(encoding="utf-8"), stable_port, candidate_port)
    site.write_text(
        render_config(
            shipped, listen_port=port, upstream_ports=None if canary else upstream_ports, access_log=access_log
        ),
        encoding="utf-8",
    )
    config = directory / "nginx.conf"
    config.write_text(main_config(directory, site), encoding="utf-8")
    base_url = f"http://127.0.0.1:{port}"
    command = [NGINX, "-p", str(directory), "-c", str(config), "-g", "daemon off;"]
    with running_process(command, log_path=directory / "nginx.out", ready_url=f"{base_url}{ready_path}"):
        yield RunningNginx(base_url=base_url, access_log=access_log, error_log=directory / "error.log")
