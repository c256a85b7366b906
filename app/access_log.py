"""The access log: one line per answered request, in the layout of the service's other log lines.

Every other line goes through loguru. This one is written for every request, and loguru
builds a full record for each message (caller frame, thread, process, timezone-aware time),
a large share of a one-row request (docs/performance.md). Here the
line is formatted directly, in the layout ``app.log.TEXT_FORMAT`` defines for every line, or,
with ``LOG_JSON``, as loguru's ``{"text", "record"}`` object with the fields a log shipper reads
(time, level, name, message, and in ``extra`` the request id, method, path, status, duration
and the handler's fields, such as rows). Each line is written to standard error as its request
ends.
"""

from __future__ import annotations

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
        self.level_number = logger.level(LEVEL).no
        self._second = -1
        self._second_text = ""

    def write(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        """Write the line of a request that has been answered."""
        answered = (time.time(), request_id, scope["method"], scope["path"], status, seconds, access_log_fields(scope))
        # Looked up on each line, as print() does, so that a redirected stderr is followed.
        sys.stderr.write(self._line(answered))

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
            "level": {"name": LEVEL, "no": self.level_number},
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
    if settings.ACCESS_LOG and logger.level(settings.LOG_LEVEL).no <= logger.level(LEVEL).no:
        return AccessLog(json=settings.LOG_JSON)
    return None
