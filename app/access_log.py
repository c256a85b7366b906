"""The access log: one line per answered request, in the layout of the service's other log lines.

Every other line goes through loguru. This one is written for every request, and loguru
builds a full record for each message (caller frame, thread, process, timezone-aware time)
and writes each line with its own system call: together a quarter of a one-row request's
time (bench/). Here the line is formatted directly, in the layout ``app.log.TEXT_FORMAT``
defines for every line, or, with ``LOG_JSON``, as loguru's ``{"text", "record"}`` object with
the fields a log shipper reads (time, level, name, message, and in ``extra`` the request id,
method, path, status, duration and the handler's fields, such as rows). Lines are written to
standard error in batches, as nginx's ``access_log ... buffer= flush=`` does: at most ``FLUSH_SECONDS`` after the first
line waiting, at ``FLUSH_LINES`` lines, and when the app stops.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import orjson
from loguru import logger
from starlette.types import Scope

from app.config import Settings
from app.log import TEXT_FORMAT
from app.request_state import access_log_fields

NAME = "app.access"
LEVEL = "INFO"
LEVEL_NUMBER = 20  # loguru's INFO
FLUSH_SECONDS = 0.1
FLUSH_LINES = 1000


# When, request id, method, path, status, seconds taken, the handler's fields.
Answered = tuple[float, str, str, str, int, float, dict[str, Any]]


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else str(orjson.dumps(value), "utf-8")


class _Formatted(str):
    """Text already formatted: ``TEXT_FORMAT``'s format spec for loguru's time does not apply to it."""

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        return str(self)


class AccessLog:
    def __init__(self, *, json: bool) -> None:
        self.json = json
        self._waiting: list[Answered] = []
        self._second = -1
        self._second_text = ""

    def write(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        """Queue the line of a request answered on the running event loop; it is formatted at the flush."""
        answered = (time.time(), request_id, scope["method"], scope["path"], status, seconds, access_log_fields(scope))
        self._waiting.append(answered)
        if len(self._waiting) == 1:
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
        elif len(self._waiting) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        """Write the lines waiting, in one call."""
        if self._waiting:
            answered, self._waiting = self._waiting, []
            # Looked up on each flush, as print() does, so that a redirected stderr is followed.
            sys.stderr.write("".join(map(self._line, answered)))
            sys.stderr.flush()

    def _line(self, answered: Answered) -> str:
        now, request_id, method, path, status, seconds, fields = answered
        details = "".join(f" {key}={_compact(value)}" for key, value in fields.items())
        if not path.isprintable():  # percent-decoded: a client could put a line break in it
            path = path.encode("unicode_escape").decode("ascii")
        milliseconds = round(seconds * 1000, 2)
        message = f"{method} {path} {status} {milliseconds:.2f}ms{details}"
        time_text = self._time_text(now)
        text = TEXT_FORMAT.format(
            time=_Formatted(time_text), level=LEVEL, extra={"request_id": request_id}, name=NAME, message=message
        )
        if not self.json:
            return text + "\n"
        request = {"method": method, "path": path, "status": status, "duration_ms": milliseconds}
        record = {
            "extra": {"request_id": request_id, **request, **fields},
            "level": {"name": LEVEL, "no": LEVEL_NUMBER},
            "message": message,
            "name": NAME,
            "time": {"repr": time_text, "timestamp": now},
        }
        line = {"text": text + "\n", "record": record}
        return str(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE), "utf-8")

    def _time_text(self, now: float) -> str:
        """Local time as ``YYYY-MM-DD HH:mm:ss.SSS``, as loguru writes it; the seconds formatted once."""
        second = int(now)
        if second != self._second:
            self._second, self._second_text = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._second_text}.{int((now - second) * 1000):03d}"


def access_log_for(settings: Settings) -> AccessLog | None:
    """The access log, unless ``ACCESS_LOG`` is off or ``LOG_LEVEL`` is above INFO."""
    if settings.ACCESS_LOG and logger.level(settings.LOG_LEVEL).no <= LEVEL_NUMBER:
        return AccessLog(json=settings.LOG_JSON)
    return None
