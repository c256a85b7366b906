"""The ledger's settings, from the environment (and ``.env``), read on their own for now."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

OFF = "off"
# The URL schemes of the databases the ledger has a store for (Heroku's DATABASE_URL says postgres://).
SCHEMES = frozenset({"postgres", "postgresql", "postgresql+psycopg", "sqlite", "sqlite+pysqlite"})


class LedgerDirectoryError(Exception):
    """A directory the ledger writes in cannot be made: the message names it and says why."""


@dataclass(frozen=True)
class Unshown:
    """Marks a setting whose value a refusal never repeats: it may hold a password."""


def any_case(names: Any) -> BeforeValidator:
    """For a setting whose values are the names of a ``Literal``: any case spells the name."""
    by_folded = {name.casefold(): name for name in get_args(names)}

    def named(value: Any) -> Any:
        return by_folded.get(value.casefold(), value) if isinstance(value, str) else value

    return BeforeValidator(named)


WhenFull = Literal["count", "refuse"]


def _read_url(url: str) -> URL | None:
    """SQLAlchemy's reading of ``url``, None when it is not one it can read (a port that is no number, say)."""
    # Imported here: the server's protocol reads the settings, and needs no SQLAlchemy for it.
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


def ledger_url(value: str | None) -> str | None:
    """``off`` (any case), or a URL of a database the ledger has a store for."""
    if value is None or value.casefold() == OFF:
        return None if value is None else OFF
    read = _read_url(value)
    if read is None or read.drivername not in SCHEMES:
        raise ValueError("must be off, a postgresql:// (or postgres://) URL or a sqlite:/// URL")
    # The text after the last @ is the host, and a driver names the host in its errors (logged):
    # an @ of the password must not leave the rest of the password there.
    if read.host is not None and "@" in read.host:
        raise ValueError("has an @ in its password or user name: write it as %40")
    if read.get_backend_name() in ("postgres", "postgresql") and (unknown := _unknown_options(read)):
        raise ValueError(f"has the option {unknown[0]!r}, which PostgreSQL's connections do not take")
    return value


def _unknown_options(url: URL) -> list[str]:
    """The URL's query options that libpq does not know (psycopg would refuse them at the first connection)."""
    from psycopg import pq  # noqa: PLC0415  (as SQLAlchemy, in _read_url)

    known = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    return sorted(set(url.query) - known)


def heroku_url(value: str | None, info: ValidationInfo) -> str | None:
    """``DATABASE_URL``, checked only when the ledger would use it: ``LEDGER_URL`` unset."""
    if info.data.get("LEDGER_URL") is not None:
        return value
    try:
        return ledger_url(value)
    except ValueError as error:
        raise ValueError(f"{error}: the ledger uses DATABASE_URL while LEDGER_URL is unset") from None


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    # Where predictions go: "off", a postgresql:// URL, or a sqlite:/// URL. Unset: Heroku's
    # DATABASE_URL if there is one, else SQLite in LEDGER_DATA_DIR.
    LEDGER_URL: Annotated[str | None, AfterValidator(ledger_url), Unshown()] = None
    # Another component's database on some platforms: refused only when the ledger would use it.
    DATABASE_URL: Annotated[str | None, AfterValidator(heroku_url), Unshown()] = None
    LEDGER_DATA_DIR: Path = Path("data")
    # The write-ahead spool: one file per worker process, in LEDGER_DATA_DIR/spool by default.
    LEDGER_SPOOL_DIR: Path | None = None
    # Bytes a worker's spool may hold that are not yet in the database (the database is down or slow).
    LEDGER_SPOOL_MAX_BYTES: int = Field(default=256 * 1024 * 1024, ge=4096)
    # At that bound: keep answering and count the predictions not recorded, or refuse (LedgerFullError: a 503).
    LEDGER_WHEN_FULL: Annotated[WhenFull, any_case(WhenFull)] = "count"
    # Predictions older than this many days are dropped (a day's partition at a time on PostgreSQL).
    LEDGER_RETENTION_DAYS: int = Field(default=90, ge=1)
    # How often the background writer looks at the spool when it has caught up.
    LEDGER_FLUSH_SECONDS: float = Field(default=0.5, gt=0)

    def database_url(self) -> str | None:
        """The SQLAlchemy URL of the ledger's database, or None when the ledger is off."""
        url = self.LEDGER_URL or self.DATABASE_URL
        if url is None:
            return f"sqlite:///{(self.LEDGER_DATA_DIR / 'ledger.sqlite3').resolve()}"
        if url == OFF:
            return None
        # Heroku's DATABASE_URL says postgres://; SQLAlchemy takes psycopg 3 by its own name.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        return url

    def spool_dir(self) -> Path:
        return self.LEDGER_SPOOL_DIR or self.LEDGER_DATA_DIR / "spool"

    def make_directories(self) -> None:
        """Make the directories the ledger writes in: its data's, its spool's, an SQLite file's.

        ``LedgerDirectoryError`` when one cannot be made.
        """
        url = self.database_url()
        if url is None:
            return
        directories = [self.LEDGER_DATA_DIR, self.spool_dir()]
        read = _read_url(url)
        # An SQLite URI filename (file:...?uri=true) is SQLite's to read, not a path.
        if read is not None and read.get_backend_name() == "sqlite" and read.database and "uri" not in read.query:
            directories.append(Path(read.database).parent)
        try:
            for directory in directories:
                directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LedgerDirectoryError(
                f"cannot make the ledger's directory {error.filename}: {error.strerror}"
            ) from error
