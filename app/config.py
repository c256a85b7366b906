"""Service settings: one object, read from the environment and an optional ``.env`` file.

``create_app(settings)`` puts them on the app's state (routes read them with
``app.api.deps.settings_of``) and, through the lifespan state, hands them to the server's
protocol (``app.server_protocol``). ``load_settings`` reads them; a setting that does not
validate is one line naming it, its value and what it allows (``InvalidSettingsError``), which
the start command prints instead of pydantic's traceback.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import AfterValidator, AnyHttpUrl, BeforeValidator, Field, SecretStr, ValidationError, computed_field
from pydantic_settings import NoDecode, SettingsConfigDict, SettingsError

from app.ledger.settings import LedgerSettings, Unshown, any_case

PATH_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")
MIN_TOKEN_CHARS = 16
# RFC 6750's b64token: the characters a bearer token can have in an Authorization header.
BEARER_TOKEN = re.compile(rf"[A-Za-z0-9._~+/-]{{{MIN_TOKEN_CHARS},}}=*")

LogLevel = Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"]


def parse_origins(value: Any) -> Any:
    """Accept ``"https://a.example,https://b.example"`` as well as a JSON list."""
    if isinstance(value, str) and not value.startswith("["):
        return [origin.strip() for origin in value.split(",") if origin.strip()]
    return value


def path_prefix(value: str) -> str:
    """A prefix for routes, as FastAPI takes one: ``/api/v1``."""
    if not PATH_PREFIX.fullmatch(value):
        raise ValueError("must be a path that starts with / and does not end with one, such as /api/v1")
    return value


def bearer_token(value: SecretStr | None) -> SecretStr | None:
    """A token a client can send, long enough not to be guessed; another would never match or be weak."""
    if value is not None and not BEARER_TOKEN.fullmatch(value.get_secret_value()):
        raise ValueError(
            f"must be at least {MIN_TOKEN_CHARS} characters of A-Z, a-z, 0-9 and -._~+/ "
            "(such as the output of: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return value


class Settings(LedgerSettings):
    """The service's settings; the prediction ledger's (``LEDGER_*``) come from ``LedgerSettings``."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    PROJECT_NAME: str = "Car Evaluation API"
    API_V1_STR: Annotated[str, AfterValidator(path_prefix)] = "/api/v1"
    # A pydantic field: pydantic copies the default for each instance.
    BACKEND_CORS_ORIGINS: Annotated[list[AnyHttpUrl], NoDecode, BeforeValidator(parse_origins)] = []  # noqa: RUF012
    LOG_LEVEL: Annotated[LogLevel, any_case(LogLevel)] = "INFO"
    LOG_JSON: bool = False  # one JSON object per line, for log shippers in production
    ACCESS_LOG: bool = True  # one line per request; off where the proxy in front logs them
    MAX_ROWS_PER_REQUEST: int = Field(default=10_000, ge=1)
    MAX_REQUEST_BODY_BYTES: int = Field(default=2 * 1024 * 1024, ge=1024)
    # POST /api/v1/predict/file: the uploaded file's size (413 past it) and rows (422 past it).
    MAX_UPLOAD_BYTES: int = Field(default=64 * 1024 * 1024, ge=1024)
    MAX_UPLOAD_ROWS: int = Field(default=1_000_000, ge=1)
    METRICS_ENABLED: bool = True  # Prometheus metrics at /metrics (app/metrics.py)
    # FastAPI's OpenTelemetry spans and metrics, for an OpenTelemetry SDK set up around the
    # service. Off, FastAPI does not look for one on every request.
    OTEL_ENABLED: bool = False
    # The garbage collector tuned while the app runs (app/collector.py).
    GC_TUNING: bool = True
    # The server's own limits (app/server_protocol.py, app/serve.py).
    MAX_REQUEST_HEADER_BYTES: int = Field(default=32 * 1024, ge=1024)
    REQUEST_HEADER_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    # Below the 30 s after which Heroku and Kubernetes' default grace period send SIGKILL.
    GRACEFUL_SHUTDOWN_SECONDS: int = Field(default=20, ge=1)
    # The bearer token POST /api/v1/feedback requires; unset, the route refuses every call.
    FEEDBACK_TOKEN: Annotated[SecretStr | None, AfterValidator(bearer_token)] = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def all_cors_origins(self) -> list[str]:
        return [str(origin).rstrip("/") for origin in self.BACKEND_CORS_ORIGINS]


# The key under which the app's lifespan state holds its settings, for the server's protocol.
SETTINGS_STATE_KEY = "settings"


SettingsKind = TypeVar("SettingsKind", bound=LedgerSettings)


class InvalidSettingsError(ValueError):
    """Settings from the environment (or ``.env``) that do not validate, described on one line."""


def _unshown(kind: type[LedgerSettings], name: object) -> bool:
    """A secret setting, or one marked ``Unshown``: its value may hold a password."""
    field = kind.model_fields.get(str(name))
    if field is None:
        return False
    return SecretStr in (field.annotation, *get_args(field.annotation)) or any(
        isinstance(marker, Unshown) for marker in field.metadata
    )


def _describe(error: ValidationError, kind: type[LedgerSettings]) -> str:
    """Each setting refused, with the value given (unless it may be secret) and what it allows, on one line."""
    problems = []
    for problem in error.errors(include_url=False):
        name, *inner = problem["loc"]
        where = f"{name}[{inner[0]}]" if inner else str(name)
        given = "(value not shown)" if _unshown(kind, name) else repr(problem["input"])
        message = problem["msg"]
        problems.append(f"{where}={given}: {message[:1].lower()}{message[1:]}")
    return f"invalid setting {'; '.join(problems)}"


def load_settings(kind: type[SettingsKind]) -> SettingsKind:
    """The settings from the environment; ``InvalidSettingsError`` when one does not validate.

    ``kind`` is ``Settings`` or a part of them, such as the ledger commands' ``LedgerSettings``.
    """
    try:
        return kind()
    except ValidationError as error:
        raise InvalidSettingsError(_describe(error, kind)) from None
    except SettingsError as error:  # a value pydantic-settings could not even decode
        raise InvalidSettingsError(f"invalid setting: {error}") from None
