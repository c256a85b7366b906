"""The background writer: a thread that moves spool files into the database, in batches.

Each pass takes up to ``CHUNK_BYTES`` of each file from where the database's progress for
that file ends, and writes the frames and the new progress in one transaction. A failed
write (the database is down) is retried at the next pass; the spool keeps growing meanwhile,
up to its bound. Orphaned files of dead processes are claimed, replayed and deleted.

After a failed write, each file's progress is read again from the database before the next
one: a commit can succeed while its acknowledgement is lost with the connection, and the
database's progress, not the writer's memory, says where the file's next frame starts.
A ledger opened while the database was down migrates its schema at the first pass that
reaches it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from app.ledger.batch import HEADER, decode, extent
from app.ledger.metrics import LedgerMetrics
from app.ledger.schema import migrate
from app.ledger.spool import Spool, SpoolFile, claim_orphans
from app.ledger.store import Store
from app.memory import release_unused_memory

logger = logging.getLogger(__name__)

CHUNK_BYTES = 16 * 1024 * 1024
HOUSEKEEPING_SECONDS = 10.0  # orphans, file rotation, partitions ahead and retention, at most this often
RETRY_SECONDS = 1.0
FAILURE_LOG_SECONDS = 60.0


@dataclass
class Tallies:
    """What the writer has published so far, to add only the difference to the counters."""

    not_recorded: int = 0
    refused: int = 0


class Writer:
    def __init__(
        self,
        spool: Spool,
        store: Store,
        metrics: LedgerMetrics,
        *,
        flush_seconds: float,
        retention_days: int,
        migrated: bool = True,
    ) -> None:
        self.spool = spool
        self.store = store
        self.metrics = metrics
        self.flush_seconds = flush_seconds
        self.retention_days = retention_days
        self.migrated = migrated
        self.refused = 0  # rows refused, counted on the event loop
        self.orphans: list[SpoolFile] = []
        self._unsure: set[Path] = set()  # files whose progress the database must confirm (a write failed)
        self.passes = 0  # passes finished, each over every file
        self._published = Tallies()
        self._housekept = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        metrics.spool_max_bytes.set(spool.max_bytes)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop the thread after one last pass (bounded by ``timeout``)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def release_orphans(self) -> None:
        """Close the orphans claimed (once stopped): what is left of them stays for a replay."""
        for orphan in self.orphans:
            os.close(orphan.fd)
        self.orphans = []

    def drain(self, timeout: float) -> bool:
        """Wait, up to ``timeout`` seconds, until this process's spool and its orphans are written.

        At least one full pass after the call must end with nothing left, so orphans found at
        start count.
        """
        deadline = time.monotonic() + timeout
        first = self.passes + 1
        while time.monotonic() < deadline:
            if self.passes > first and self.spool.backlog == 0 and not self.orphans:
                return True
            self._wake.set()
            time.sleep(0.01)
        return False

    def _run(self) -> None:
        backlog = False  # passes have been writing more than a chunk per file
        failing_since: float | None = None  # when the writes began to fail, while they do
        warned = 0.0
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception as error:  # the database is down or refused: keep the spool, try again
                now = time.monotonic()
                # Retried every second, said once a minute: an outage is not a flood of lines.
                if failing_since is None or now - warned >= FAILURE_LOG_SECONDS:
                    logger.warning("ledger: writing the spool into the database failed, retrying: %s", error)
                    warned = now
                if failing_since is None:
                    failing_since = now
                self.metrics.write_errors.inc()
                self._publish(lag_since=self._oldest_unwritten())
                self._stop.wait(RETRY_SECONDS)
                continue
            if failing_since is not None:
                failed_for = time.monotonic() - failing_since
                logger.warning("ledger: the database takes the spool again, after %.0f s", failed_for)
                failing_since = None
            if busy:
                backlog = True
            elif backlog:  # written: what it took in decoding goes back to the system (app.memory)
                release_unused_memory()
                backlog = False
            if not busy:
                self._wake.wait(self.flush_seconds)
                self._wake.clear()
        try:
            self.run_once()
        except Exception:
            logger.exception("ledger: the last write before stopping failed; the spool keeps it for a replay")

    def run_once(self) -> bool:
        """One pass over every spool file; True when a file had more than one chunk to write."""
        if not self.migrated:
            migrate(self.store.engine)
            self.migrated = True
        now = time.time()
        if now - self._housekept >= HOUSEKEEPING_SECONDS:
            self._housekeeping(now)
        busy = False
        files = [*self.orphans, *self.spool.files()]
        try:
            for spool_file in files:
                busy |= self._write_file(spool_file)
        except Exception:
            self._unsure.update(spool_file.path for spool_file in files)
            raise
        self._publish(lag_since=self._oldest_unwritten())
        self.passes += 1
        return busy

    def _housekeeping(self, now: float) -> None:
        today = datetime.fromtimestamp(now, UTC).date()
        self.store.prepare([today, today + timedelta(days=1)])
        self.store.drop_before(today - timedelta(days=self.retention_days))
        own = {spool_file.path for spool_file in [*self.orphans, *self.spool.files()]}
        self.orphans.extend(claim_orphans(self.spool.directory, own))
        self.spool.rotate_if_large()
        self._housekept = now

    def _write_file(self, spool_file: SpoolFile) -> bool:
        orphan = spool_file in self.orphans
        if spool_file.written is None or spool_file.path in self._unsure:
            known = self.store.written_bytes(spool_file.path.name)
            if not orphan:
                self.spool.written += known - (spool_file.written or 0)
            spool_file.written = known
            self._unsure.discard(spool_file.path)
        data = _read(spool_file, spool_file.written, CHUNK_BYTES)
        if len(data) >= HEADER.size and (length := HEADER.unpack_from(data)[0]) > len(data):
            data = _read(spool_file, spool_file.written, length)  # one frame larger than a chunk
        # The headers first (the days to make room for), then the frames decoded as they are
        # written: a chunk of frames alive at once would make the collector walk the heap.
        span = extent(data)
        if span.end:
            self.store.prepare(_days(span.first_time, span.last_time))
            frames = (frame for _, frame in decode(memoryview(data)[: span.end]))
            self.store.write(spool_file.path.name, frames, spool_file.written + span.end)
            spool_file.written += span.end
            if not orphan:
                self.spool.written += span.end
            self.metrics.written.inc(span.rows)
        more = len(data) >= CHUNK_BYTES
        if not more and spool_file is not self.spool.current:
            finished = spool_file.written == os.fstat(spool_file.fd).st_size
            # A dead process's file ends with a frame it had not finished writing: never answered.
            if finished or orphan:
                self._remove(spool_file, orphan)
        return more

    def _remove(self, spool_file: SpoolFile, orphan: bool) -> None:
        # The file first: were the progress forgotten first, a crash in between would replay it.
        if orphan:
            spool_file.path.unlink(missing_ok=True)
            os.close(spool_file.fd)
            self.orphans.remove(spool_file)
        else:
            self.spool.remove(spool_file)
        self.store.forget(spool_file.path.name)

    def _oldest_unwritten(self) -> float | None:
        times = []
        for spool_file in [*self.orphans, *self.spool.files()]:
            header = _read(spool_file, spool_file.written or 0, HEADER.size)
            if len(header) == HEADER.size:
                times.append(HEADER.unpack(header)[1])
        return min(times, default=None)

    def _publish(self, lag_since: float | None) -> None:
        spool, published = self.spool, self._published
        self.metrics.spool_bytes.set(spool.backlog)
        self.metrics.lag.set(0.0 if lag_since is None else max(0.0, time.time() - lag_since))
        not_recorded, refused = spool.not_recorded, self.refused
        self.metrics.not_recorded.inc(not_recorded - published.not_recorded)
        self.metrics.refused_rows.inc(refused - published.refused)
        published.not_recorded, published.refused = not_recorded, refused


def _read(spool_file: SpoolFile, offset: int, size: int) -> bytes:
    fd = os.open(spool_file.path, os.O_RDONLY)
    try:
        return os.pread(fd, size, offset)
    except FileNotFoundError:
        return b""
    finally:
        os.close(fd)


def _days(first: float, last: float) -> list[date]:
    """Every day (UTC) from ``first``'s to ``last``'s."""
    start, end = (datetime.fromtimestamp(moment, UTC).date() for moment in (first, last))
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
