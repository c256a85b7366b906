"""The error body of every 4xx answer: FastAPI's ``detail`` list, with row/field/allowed added."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is, e.g. ['body', 'inputs', 0, 'buying'].")
    msg: str = Field(description="What is wrong, in words, with the allowed values where there are some.")
    type: str = Field(description="A stable code for the kind of problem.")
    row: int | None = Field(default=None, description="Index of the offending row in `inputs`.")
    field: str | None = Field(default=None, description="The offending field.")
    input: Any = Field(default=None, description="The value that was sent.")
    allowed: list[str] | None = Field(default=None, description="The accepted values (or field names).")


class ErrorResponse(BaseModel):
    detail: list[ErrorDetail]
