"""Build and run the project's image with Debian's podman, with no registry: the tests' container tooling.

No base image can be pulled here, so the base is made with ``debootstrap`` (Debian bookworm
with its python3 and python3-venv) and ``podman import``. Every podman call uses a
containers.conf of its own (``CONTAINERS_CONF``), for what these machines need: no default
ulimits (raising RLIMIT_NOFILE is not permitted) and runc (crun fails on hybrid cgroups).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools import REPO_ROOT

CONTAINERS_CONF = """\
[containers]
default_ulimits = []

[engine]
runtime = "runc"
"""
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# debootstrap's rootfs has no environment: without a PATH, nothing in the image is found.
IMPORT_PATH = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Generous bounds: a cold debootstrap or image build downloads some 300 MB.
SLOW_COMMAND_TIMEOUT_S = 900
COMMAND_TIMEOUT_S = 120


@dataclass(frozen=True)
class Podman:
    """podman with this machine's settings; every call is bounded in time."""

    config: Path

    @classmethod
    def configured_in(cls, directory: Path) -> Podman:
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "containers.conf"
        config.write_text(CONTAINERS_CONF, encoding="utf-8")
        return cls(config)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.config)}

    def command(self, *arguments: str) -> list[str]:
        return ["podman", *arguments]

    def run(
        self, *arguments: str, timeout: float = COMMAND_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*arguments), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"podman {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result

    def remove_image(self, reference: str) -> None:
        self.run("rmi", "--force", reference, check=False)


def import_debian_base(podman: Podman, rootfs: Path, reference: str) -> str:
    """A Debian bookworm image with Debian's python3 and python3-venv, made without a registry."""
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            DEBIAN_SUITE,
            str(rootfs),
            DEBIAN_MIRROR,
        ],
        check=True,
        capture_output=True,
        timeout=SLOW_COMMAND_TIMEOUT_S,
    )
    try:
        # debootstrap unmounts the /proc it mounted in the rootfs as it ends, unless something
        # holds it busy: archived, a /proc would bring the host's processes (and its
        # /proc/kcore, as large as the address space) into the image, and rmtree cannot delete it.
        unmount_under(rootfs)
        archive = ["tar", "--one-file-system", "-C", str(rootfs), "-c", "."]
        with subprocess.Popen(archive, stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                podman.command("import", "--change", IMPORT_PATH, "-", reference),
                stdin=tar.stdout,
                env=podman.env,
                capture_output=True,
                timeout=SLOW_COMMAND_TIMEOUT_S,
                check=False,
            )
        if tar.returncode != 0 or imported.returncode != 0:
            raise RuntimeError(f"podman import failed: {imported.stderr.decode()[-3000:]}")
    finally:
        shutil.rmtree(rootfs)  # 275 MB, now in podman's storage
    return reference


def mounts_under(directory: Path) -> list[Path]:
    """What is mounted at or below ``directory``, the deepest first (``/proc/self/mountinfo``)."""
    root = directory.resolve()
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            # The fifth field, with space, tab, newline and backslash written as octal escapes.
            mount_point = Path(re.sub(r"\\([0-7]{3})", lambda escape: chr(int(escape[1], 8)), line.split()[4]))
            if mount_point == root or root in mount_point.parents:
                found.append(mount_point)
    return sorted(found, key=lambda mount_point: len(mount_point.parts), reverse=True)


def unmount_under(directory: Path) -> None:
    """Detach whatever is mounted at or below ``directory``, even while something holds it busy."""
    for mount_point in mounts_under(directory):
        unmount = ["umount", "--lazy", str(mount_point)]
        subprocess.run(unmount, check=True, capture_output=True, timeout=COMMAND_TIMEOUT_S)


def build_image(
    podman: Podman,
    reference: str,
    *,
    secrets: Mapping[str, Path],
    build_args: Mapping[str, str],
    log_path: Path,
    context: Path = REPO_ROOT,
) -> str:
    """``podman build`` of the repository's Dockerfile; the build's output goes to ``log_path``.

    ``--network host`` reaches PyPI and the loopback private index; ``--layers=false`` leaves
    no intermediate images behind (a test run builds once, from scratch).
    """
    arguments = [
        "build",
        "--network",
        "host",
        "--layers=false",
        "--tag",
        reference,
        *(f"--secret=id={name},src={path}" for name, path in secrets.items()),
        *(f"--build-arg={name}={value}" for name, value in build_args.items()),
        str(context),
    ]
    with log_path.open("w", encoding="utf-8") as log:
        built = subprocess.run(
            podman.command(*arguments),
            env=podman.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=SLOW_COMMAND_TIMEOUT_S,
            check=False,
        )
    if built.returncode != 0:
        raise RuntimeError(f"podman build failed ({built.returncode}):\n{log_path.read_text()[-5000:]}")
    return reference


def archive_blobs(archive: Path) -> Iterator[tuple[str, bytes]]:
    """Every file of a ``podman save`` archive (layers, config, manifests), gzip layers unpacked."""
    with tarfile.open(archive) as saved:
        for member in saved:
            extracted = saved.extractfile(member) if member.isfile() else None
            if extracted is None:
                continue
            content = extracted.read()
            yield member.name, gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content


@contextmanager
def kube_played(podman: Podman, manifest: Path) -> Iterator[str]:
    """``podman kube play`` a Deployment; yield its container's id; ``podman kube down`` after."""
    try:
        played = podman.run("kube", "play", str(manifest))
        lines = played.stdout.splitlines()
        [container_id] = [lines[index + 1] for index, line in enumerate(lines) if line.strip() == "Container:"]
        yield container_id.strip()
    finally:
        podman.run("kube", "down", str(manifest), check=False)
