"""The prediction ledger's routes: true labels in (POST /feedback), live performance out (GET /performance).

Both read the ledger the app's lifespan opened (``app.ledger_recorder`` records every
prediction into it); with ``LEDGER_URL=off`` they answer 404. The ledger's database calls block,
so they run in the thread pool. Labels need the bearer token ``FEEDBACK_TOKEN``; without one
set, the route refuses every call. Performance is read without a token, as ``/metrics`` is, so
a worker runs at most ``PERFORMANCE_QUERIES_AT_ONCE`` of its queries at a time, whoever asks:
the others wait their turn, off the thread pool, and the database's load stays bounded.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from loguru import logger
from pydantic import AfterValidator, ValidationError

from app.api.deps import settings_of
from app.api.inputs import ERROR_RESPONSES, json_body, read_json
from app.api.routing import RouterWithHead
from app.data_plane import RouteName
from app.errors import UNPROCESSABLE, ApiError
from app.ledger import LabelError, Ledger, LedgerUnavailableError
from app.ledger.labels import check_labels
from app.ledger.store import utc_time
from app.schemas.errors import ErrorResponse
from app.schemas.ledger import FeedbackRequest, FeedbackResponse, PerformanceResponse
from car_evaluation_model.processing.validation import MAX_LISTED_ERRORS

PERFORMANCE_QUERIES_AT_ONCE = 2  # per worker; each reads every prediction in its time range

router = RouterWithHead(tags=["ledger"])
bearer = HTTPBearer(auto_error=False, description="The service's FEEDBACK_TOKEN.")


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger | None = request.app.state.ledger
    if ledger is None:
        raise ApiError.single(404, ["path"], "the prediction ledger is off (LEDGER_URL=off)", "not_found")
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


def performance_queries(request: Request) -> CapacityLimiter:
    limiter: CapacityLimiter = request.app.state.performance_queries
    return limiter


PerformanceQueriesDep = Annotated[CapacityLimiter, Depends(performance_queries)]
UtcTime = Annotated[datetime, AfterValidator(utc_time)]


async def require_feedback_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """401 unless the request carries ``Authorization: Bearer <FEEDBACK_TOKEN>``; 403 for all while none is set."""
    if credentials is None:
        raise _unauthorized()
    settings = settings_of(request)
    if settings.FEEDBACK_TOKEN is None:
        raise ApiError.single(403, ["header", "authorization"], "feedback is off: set FEEDBACK_TOKEN", "forbidden")
    expected = settings.FEEDBACK_TOKEN.get_secret_value().encode()
    if not secrets.compare_digest(credentials.credentials.encode(), expected):
        raise _unauthorized()


def _unauthorized() -> ApiError:
    detail = {
        "loc": ["header", "authorization"],
        "msg": "send Authorization: Bearer <FEEDBACK_TOKEN>",
        "type": "unauthorized",
    }
    return ApiError(401, [detail], {"WWW-Authenticate": "Bearer"})


@contextmanager
def answered_503_when_unreachable() -> Iterator[None]:
    try:
        yield
    except LedgerUnavailableError as error:
        logger.warning("ledger: {}: {}", error, error.reason)  # where the database is, for the operator only
        raise ApiError.single(503, [], str(error), "ledger_unavailable") from error


def _label_detail(error: LabelError) -> dict[str, Any]:
    loc: list[str | int] = ["body", "labels", error["index"]]
    if error["field"] is not None:
        loc.append(error["field"])
    return {
        "loc": loc,
        "msg": f"label {error['index']}: {error['message']}",
        "type": error["type"],
        "row": error["index"],
        "field": error["field"],
        "input": error["value"],
        "allowed": error["allowed"],
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    **{code: ERROR_RESPONSES[code] for code in (400, 413, 415)},  # the body, read as /predict reads it
    401: {"model": ErrorResponse, "description": "No bearer token, or not FEEDBACK_TOKEN."},
    403: {"model": ErrorResponse, "description": "FEEDBACK_TOKEN is not set: feedback is off."},
    404: {"model": ErrorResponse, "description": "The ledger is off (LEDGER_URL=off)."},
    503: {"model": ErrorResponse, "description": "The ledger's database cannot be reached: try again later."},
    422: {
        "model": ErrorResponse,
        "description": "Invalid labels: each error names the label, its field and the allowed values.",
    },
}


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    responses=ERRORS,
    dependencies=[Depends(require_feedback_token)],
    openapi_extra=json_body(FeedbackRequest),
)
async def feedback(request: Request, ledger: LedgerDep) -> FeedbackResponse:
    """Store true labels of earlier predictions; all are stored, or none when any is invalid.

    A label may arrive before its prediction reaches the database: it is kept and joined then.
    """
    # Read here, not as a body parameter: FastAPI reads a body parameter whole before any
    # dependency runs, so an unauthenticated client could send any size.
    body = _feedback_request(await read_json(request, settings_of(request)))
    valid, errors = check_labels(body.labels)
    refused = [error for error in errors if error is not None]
    if refused:
        raise ApiError(UNPROCESSABLE, [_label_detail(error) for error in refused[:MAX_LISTED_ERRORS]])
    with answered_503_when_unreachable():
        await run_in_threadpool(ledger.add_checked_labels, valid)
    return FeedbackResponse(accepted=len(body.labels))


def _feedback_request(payload: Any) -> FeedbackRequest:
    try:
        return FeedbackRequest.model_validate(payload)
    except ValidationError as error:  # answered as FastAPI answers an invalid body parameter
        problems = error.errors(include_url=False)
        raise RequestValidationError([{**problem, "loc": ("body", *problem["loc"])} for problem in problems]) from None


@router.get("/performance", response_model=PerformanceResponse, responses={code: ERRORS[code] for code in (404, 503)})
async def performance(
    *,
    ledger: LedgerDep,
    queries: PerformanceQueriesDep,
    model_version: Annotated[str | None, Query(description="Only this model version.")] = None,
    route: Annotated[RouteName | None, Query(description="Only predictions of this route.")] = None,
    since: Annotated[UtcTime | None, Query(description="From this time on (ISO 8601; UTC without a zone).")] = None,
    until: Annotated[UtcTime | None, Query(description="Before this time (ISO 8601; UTC without a zone).")] = None,
) -> PerformanceResponse:
    """Live accuracy per model version, from the recorded predictions and their latest labels."""
    with answered_503_when_unreachable():
        versions = await anyio.to_thread.run_sync(
            ledger.performance, model_version, route, since, until, limiter=queries
        )
    return PerformanceResponse.model_validate({"versions": versions})
