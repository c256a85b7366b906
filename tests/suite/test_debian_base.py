"""The container tests' base image: a rootfs with something still mounted in it is archived without it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devtools.podman import mounts_under, unmount_under
from devtools.programs import unavailable


def test_a_proc_left_mounted_in_the_rootfs_is_detached_even_while_busy(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unavailable("mounting needs root, as debootstrap and the container tests do")
    rootfs = tmp_path / "root fs"  # a space, which /proc/self/mountinfo writes as \040
    (rootfs / "proc").mkdir(parents=True)
    (rootfs / "usr").mkdir()
    subprocess.run(["mount", "-t", "proc", "proc", str(rootfs / "proc")], check=True, timeout=30)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(rootfs / "usr")], check=True, timeout=30)
    try:
        assert set(mounts_under(rootfs)) == {rootfs / "proc", rootfs / "usr"}
        assert mounts_under(tmp_path / "elsewhere") == []

        with (rootfs / "proc" / "self" / "status").open("rb"):  # busy, as when debootstrap could not unmount it
            unmount_under(rootfs)

        assert mounts_under(rootfs) == []
        assert list((rootfs / "proc").iterdir()) == []
        shutil.rmtree(rootfs)
    finally:  # whatever the code under test did
        for mounted in ("usr", "proc"):
            subprocess.run(["umount", "--lazy", str(rootfs / mounted)], check=False, capture_output=True, timeout=30)
