"""The API's error answers, in the shape of ``app.schemas.errors.ErrorResponse``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from car_evaluation_model import ModelArtifactError


class ApiError(Exception):
    """An error answer: a status and a list of ``ErrorDetail``-shaped dicts."""

    def __init__(self, status_code: int, details: list[dict[str, Any]]) -> None:
        super().__init__(details[0]["msg"])
        self.status_code = status_code
        self.details = details

    @classmethod
    def single(cls, status_code: int, loc: list[str | int], msg: str, type_: str, **extra: Any) -> ApiError:
        return cls(status_code, [{"loc": loc, "msg": msg, "type": type_, **extra}])

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status_code, content={"detail": self.details})


def model_unavailable(error: ModelArtifactError) -> ApiError:
    """503: the model cannot be loaded (missing artifact, wrong scikit-learn version)."""
    return ApiError.single(503, ["model"], str(error), "model_unavailable")


async def api_error_handler(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error.response()
