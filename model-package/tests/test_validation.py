from __future__ import annotations

import math

import pandas as pd
import pytest

from car_evaluation_model.processing.validation import validate_inputs

BUYING = ["low", "med", "high", "vhigh"]


def only_error(input_data: object) -> dict[str, object]:
    rows, errors = validate_inputs(input_data=input_data)  # type: ignore[arg-type]
    assert errors is not None
    assert len(errors) == 1, errors
    assert rows.empty
    return dict(errors[0])


def test_valid_rows_become_canonical_strings(good_row: dict[str, object]) -> None:
    rows, errors = validate_inputs(input_data=[good_row, {**good_row, "doors": "5more", "persons": 2}])
    assert errors is None
    assert rows.to_dict(orient="records") == [
        {**good_row, "doors": "4"},
        {**good_row, "doors": "5more", "persons": "2"},
    ]


@pytest.mark.parametrize("value", ["cheap", "VHIGH ", "Low", 3, 2.0, True, ["low"]])
def test_unknown_value_names_field_and_allowed_values(good_row: dict[str, object], value: object) -> None:
    error = only_error({**good_row, "buying": value})
    assert error["row"] == 0
    assert error["field"] == "buying"
    assert error["value"] == value
    assert error["allowed"] == BUYING
    assert error["type"] == "value_not_allowed"
    assert "low, med, high, vhigh" in str(error["message"])


def test_integer_that_is_not_a_value_is_rejected(good_row: dict[str, object]) -> None:
    error = only_error({**good_row, "doors": 5})
    assert error["field"] == "doors"
    assert error["allowed"] == ["2", "3", "4", "5more"]


def test_missing_field(good_row: dict[str, object]) -> None:
    row = dict(good_row)
    del row["safety"]
    error = only_error(row)
    assert error["field"] == "safety"
    assert error["type"] == "missing"
    assert error["value"] is None
    assert "required" in str(error["message"])
    assert error["allowed"] == ["low", "med", "high"]


def test_extra_field(good_row: dict[str, object]) -> None:
    error = only_error({**good_row, "colour": "red"})
    assert error["field"] == "colour"
    assert error["type"] == "unknown_field"
    assert error["value"] == "red"
    assert error["allowed"] == ["buying", "maint", "doors", "persons", "lug_boot", "safety"]


def test_none_value(good_row: dict[str, object]) -> None:
    error = only_error({**good_row, "lug_boot": None})
    assert error["field"] == "lug_boot"
    assert error["type"] == "null_value"
    assert error["value"] is None
    assert "null" in str(error["message"])


def test_nan_in_a_frame_is_a_missing_value(good_row: dict[str, object]) -> None:
    frame = pd.DataFrame([good_row, {**good_row, "persons": math.nan}])
    rows, errors = validate_inputs(input_data=frame)
    assert errors is not None
    assert [(e["row"], e["field"]) for e in errors] == [(1, "persons")]
    assert list(rows.index) == [0]


def test_empty_input() -> None:
    empties: list[object] = [[], pd.DataFrame()]
    for empty in empties:
        error = only_error(empty)
        assert error["row"] is None
        assert "no input rows" in str(error["message"])


def test_row_that_is_not_an_object() -> None:
    error = only_error(["buying=low"])
    assert error["row"] == 0
    assert error["field"] is None


def test_errors_keep_row_positions_and_valid_rows_survive(good_row: dict[str, object]) -> None:
    rows, errors = validate_inputs(input_data=[good_row, {**good_row, "safety": "none"}, good_row])
    assert errors is not None
    assert [(e["row"], e["field"]) for e in errors] == [(1, "safety")]
    assert list(rows.index) == [0, 2]
