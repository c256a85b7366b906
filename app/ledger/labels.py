"""True labels as clients send them: each checked on its own, with an error naming the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from app.ledger.cars import CLASSES
from app.request_ids import REQUEST_ID_PATTERN
from car_evaluation_model.processing.validation import echo, shown

LABEL_FIELDS = ("request_id", "row", "label")
MAX_ROW = 2**31 - 1  # the largest row the ledger's databases store (a 32-bit integer)
CheckedLabel = tuple[str, int, int]  # request id, row, class index


class LabelError(TypedDict):
    index: int  # the label's position in what was sent
    field: str | None
    value: Any
    allowed: list[str] | None
    type: str
    message: str


def check_label(index: int, label: Any) -> CheckedLabel | LabelError:
    """(request id, row, class index), or the first problem of the label."""
    if not isinstance(label, Mapping):
        message = "a label must be an object with request_id, row and label"
        return _error(index, None, None, None, type_="label_not_object", message=message)
    if (fields_error := _fields_error(index, label)) is not None:
        return fields_error
    request_id, row, value = (label[name] for name in LABEL_FIELDS)
    if not isinstance(request_id, str) or not REQUEST_ID_PATTERN.fullmatch(request_id):
        message = "request_id must be 1 to 128 characters among letters, digits and . _ : -"
        return _error(index, "request_id", echo(request_id), None, type_="malformed_request_id", message=message)
    if type(row) is not int or not 0 <= row <= MAX_ROW:
        message = f"row must be a whole number from 0 to {MAX_ROW}"
        return _error(index, "row", echo(row), None, type_="malformed_row", message=message)
    if not isinstance(value, str) or value not in CLASSES:
        allowed = ", ".join(CLASSES)
        message = f"label has the value {shown(value)}, which is not a class; allowed values: {allowed}"
        return _error(index, "label", echo(value), list(CLASSES), type_="value_not_allowed", message=message)
    return request_id, row, CLASSES.index(value)


def _fields_error(index: int, label: Mapping[Any, Any]) -> LabelError | None:
    """The label's first missing field, or else its first unknown one."""
    for name in LABEL_FIELDS:
        if name not in label:
            return _error(index, name, None, None, type_="missing", message=f"{name} is required")
    unknown = sorted(str(name) for name in label if name not in LABEL_FIELDS)
    if unknown:
        message = f"unknown field {shown(unknown[0])}; a label has the fields {', '.join(LABEL_FIELDS)}"
        return _error(index, echo(unknown[0]), None, list(LABEL_FIELDS), type_="unknown_field", message=message)
    return None


def check_labels(labels: Sequence[Any]) -> tuple[list[CheckedLabel], list[LabelError | None]]:
    """The valid labels, and per label sent its error or None."""
    valid: list[CheckedLabel] = []
    errors: list[LabelError | None] = []
    for index, label in enumerate(labels):
        checked = check_label(index, label)
        if isinstance(checked, tuple):
            valid.append(checked)
            errors.append(None)
        else:
            errors.append(checked)
    return valid, errors


def _error(
    index: int, field: str | None, value: Any, allowed: list[str] | None, *, type_: str, message: str
) -> LabelError:
    return LabelError(index=index, field=field, value=value, allowed=allowed, type=type_, message=message)
