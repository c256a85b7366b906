"""What the prediction routes share: the data plane's call for a request, and refused rows as an error."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from app.data_plane import Call, RouteName
from app.errors import UNPROCESSABLE, ApiError
from app.request_state import access_log_fields, request_id_of
from car_evaluation_model import RowError


def call_of(request: Request, route: RouteName, api: str, inference_id: str | None = None) -> Call:
    """The data plane's view of ``request``: its id, what it asks, and its access line's fields."""
    scope = request.scope
    return Call(request_id_of(scope), route, api, inference_id, access_log_fields(scope))


def rows_refused(errors: list[RowError]) -> ApiError:
    """422 listing every problem of the rows the model package refused, with its row and field."""
    return ApiError(UNPROCESSABLE, [_row_error_detail(error) for error in errors])


def _row_error_detail(error: RowError) -> dict[str, Any]:
    loc: list[str | int] = ["body", "inputs"]
    if error["row"] is not None:
        loc.append(error["row"])
    if error["field"] is not None:
        loc.append(error["field"])
    return {
        "loc": loc,
        "msg": f"row {error['row']}: {error['message']}" if error["row"] is not None else error["message"],
        "type": error["type"],
        "row": error["row"],
        "field": error["field"],
        "input": error["value"],
        "allowed": error["allowed"],
    }
