"""The write-ahead spool: this process's file of recorded batches, appended before each answer.

One file per worker process, named after its pid and a random token, locked (``flock``) by
the process while it lives: a file nobody holds the lock of is an orphan, left by a process
that died (``kill -9`` included: the kernel releases the lock), and any live ledger replays it.
Appends are plain ``write()`` calls: a killed process's data stays in the page cache, so
nothing it answered is lost; only a machine's crash could lose the last unsynced writes.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy

from app.ledger.batch import Cars, RecordedBatch, encode

SUFFIX = ".spool"
OPENING_SUFFIX = ".opening"
# A file is retired (the next appends go to a new one) past this size, then deleted once in the database.
ROTATE_BYTES = 64 * 1024 * 1024
SMALL_BATCH_ROWS = 8  # batches up to this many rows are looked up in Python, larger ones in numpy


Seen: TypeAlias = "numpy.ndarray[Any, numpy.dtype[numpy.bool_]]"  # per car, whether a file holds its answers


class LedgerFullError(Exception):
    """The spool holds ``LEDGER_SPOOL_MAX_BYTES`` not yet in the database, and the ledger refuses more."""


@dataclass
class SpoolFile:
    """One spool file and how much of it the database holds (known once the writer has looked)."""

    path: Path
    fd: int
    written: int | None = None  # bytes of the file already in the database
    # version -> per car, whether the file holds its answers
    seen: dict[str, Seen] = field(default_factory=dict)


class Spool:
    """This process's spool: ``append`` on the event loop, read and retired by the writer thread."""

    def __init__(self, directory: Path, max_bytes: int, refuse_when_full: bool) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.max_bytes = max_bytes
        self.refuse_when_full = refuse_when_full
        self.lock = threading.Lock()
        self.appended = 0  # bytes appended by this process, all files together
        self.written = 0  # of which the database holds (the writer adds to it)
        self.not_recorded = 0  # rows answered but not recorded: the spool was full
        self.retired: list[SpoolFile] = []
        self.current = self._open()

    def _open(self) -> SpoolFile:
        # Created under another name and locked before it is a spool file: another process
        # listing the directory in between would take it, unlocked, for an orphan.
        path = self.directory / f"{os.getpid()}-{secrets.token_hex(8)}{SUFFIX}"
        opening = path.with_suffix(OPENING_SUFFIX)
        fd = os.open(opening, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        opening.rename(path)
        return SpoolFile(path, fd, written=0)

    @property
    def backlog(self) -> int:
        """Bytes appended that the database does not hold yet."""
        return self.appended - self.written

    def append(self, batch: RecordedBatch) -> None:
        """Append ``batch``; at the bound, count its rows as not recorded or raise ``LedgerFullError``."""
        positions, codes = _positions_and_codes(batch)
        if len(codes) != len(batch.rows):
            raise ValueError(f"a batch of {len(batch.rows)} rows and {len(codes)} cars")
        with self.lock:
            current = self.current
            if (seen := current.seen.get(batch.model_version)) is None:
                seen = current.seen[batch.model_version] = numpy.zeros(len(batch.answers.codes), dtype=numpy.bool_)
            unseen = _unseen(positions, seen)
            answers: list[tuple[int, list[float]]] = []
            if len(unseen):
                new = numpy.unique(unseen)
                answers = list(zip(new.tolist(), batch.answers.probabilities[new].tolist(), strict=True))
            frame = encode(batch, codes, batch.rows, answers)
            if self.backlog + len(frame) > self.max_bytes:
                if self.refuse_when_full:
                    raise LedgerFullError(f"the ledger's spool holds {self.backlog} bytes not yet in the database")
                self.not_recorded += len(codes)
                return
            os.write(current.fd, frame)
            if answers:
                seen[unseen] = True
            self.appended += len(frame)

    def rotate_if_large(self) -> None:
        """Retire the current file past ``ROTATE_BYTES``: the next appends go to a new one."""
        if os.fstat(self.current.fd).st_size < ROTATE_BYTES:
            return
        fresh = self._open()
        with self.lock:
            self.retired.append(self.current)
            self.current = fresh

    def files(self) -> Iterator[SpoolFile]:
        """The retired files, oldest first, then the current one."""
        with self.lock:
            files = [*self.retired, self.current]
        yield from files

    def remove(self, spool_file: SpoolFile) -> None:
        """Delete a retired file that the database holds entirely."""
        with self.lock:
            self.retired.remove(spool_file)
        spool_file.path.unlink()
        os.close(spool_file.fd)

    def close(self) -> list[SpoolFile]:
        """Close the files (their locks go with them); the ones the database holds entirely are deleted.

        The others stay, orphans for the next ledger to replay. Returns the deleted ones.
        """
        files, self.retired = [*self.retired, self.current], []
        deleted = []
        for spool_file in files:
            if spool_file.written == os.fstat(spool_file.fd).st_size:
                spool_file.path.unlink()
                deleted.append(spool_file)
            os.close(spool_file.fd)
        return deleted


def _positions_and_codes(batch: RecordedBatch) -> tuple[Cars, Cars]:
    """The batch's cars' positions, and the code of each row's car.

    A position past the last car raises ``OverflowError`` (outside ``uint16``) or ``IndexError``.
    This runs on the event loop for every answer: a large batch is looked up in numpy, with no
    Python work per row; a few rows in Python, as numpy's fixed cost per call exceeds their
    work (``Ledger.record`` in bench/results/ledger.md).
    """
    table = batch.answers.codes
    if len(batch.positions) <= SMALL_BATCH_ROWS:
        few = array("H", batch.positions)
        return few, array("H", [table[position] for position in few])
    positions = numpy.fromiter(batch.positions, dtype=numpy.uint16, count=len(batch.positions))
    return positions, table[positions]


def _unseen(positions: Cars, seen: Seen) -> Cars | list[int]:
    """The positions that ``seen`` does not mark, each as often as it comes."""
    if isinstance(positions, array):
        return [position for position in positions if not seen[position]]
    return positions[~seen[positions]]


def claim_orphans(directory: Path, own: set[Path]) -> list[SpoolFile]:
    """The spool files in ``directory`` that no live process holds, now locked by this one."""
    orphans = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        if path in own:
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # another process replayed and deleted it meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if not path.exists():  # replayed and deleted between the listing and the lock
            os.close(fd)
            continue
        orphans.append(SpoolFile(path, fd))
    return orphans
