from __future__ import annotations

import math

import pandas as pd
import pytest
from pydantic import ValidationError

from car_evaluation_model import InvalidRowsError, RowError
from car_evaluation_model.config.core import FeatureSpec, config
from car_evaluation_model.domain import CarInput, Domain, FeatureValues, domain_of
from car_evaluation_model.processing.validation import MAX_ECHOED_CHARS, MAX_LISTED_ERRORS, Columns

BUYING = ["low", "med", "high", "vhigh"]
DOMAIN = domain_of(config.model)


def errors_of(input_data: object) -> list[RowError]:
    with pytest.raises(InvalidRowsError) as refused:
        DOMAIN.locate(input_data)  # type: ignore[arg-type]
    return refused.value.errors


def only_error(input_data: object) -> dict[str, object]:
    errors = errors_of(input_data)
    assert len(errors) == 1, errors
    return dict(errors[0])


def test_valid_rows_are_located_in_the_grid_by_canonical_value(good_row: dict[str, object]) -> None:
    positions = DOMAIN.locate([good_row, {**good_row, "doors": "5more", "persons": 2}])
    assert DOMAIN.frame(positions).to_dict(orient="records") == [
        {**good_row, "doors": "4"},
        {**good_row, "doors": "5more", "persons": "2"},
    ]


def test_every_car_is_located_at_its_own_position() -> None:
    grid = DOMAIN.frame()
    assert len(grid) == DOMAIN.size == 1728
    assert DOMAIN.locate(grid) == list(range(1728))
    assert DOMAIN.locate(Columns({str(name): grid[name].tolist() for name in grid})) == list(range(1728))


@pytest.mark.parametrize("features", [config.model.features[2:3], config.model.features[2:4]])  # doors; doors, persons
def test_a_domain_of_one_or_two_features_locates_its_rows_by_every_spelling(features: tuple[FeatureSpec, ...]) -> None:
    small = Domain(tuple(map(FeatureValues.from_spec, features)))
    grid: list[dict[str, str]] = small.frame().to_dict(orient="records")  # type: ignore[assignment]
    assert small.locate(grid) == list(range(small.size))
    spelled = [{name: int(value) if value.isdecimal() else value for name, value in row.items()} for row in grid]
    assert small.locate(spelled) == list(range(small.size))
    with pytest.raises(InvalidRowsError):
        small.locate([{**grid[0], "extra": 1}])


@pytest.mark.parametrize("value", ["cheap", "VHIGH ", "Low", 3, 2.0, True, ["low"]])
def test_unknown_value_names_field_and_allowed_values(good_row: dict[str, object], value: object) -> None:
    error = only_error({**good_row, "buying": value})
    assert error["row"] == 0
    assert error["field"] == "buying"
    assert error["value"] == ("<list>" if isinstance(value, list) else value)
    assert error["allowed"] == BUYING
    assert error["type"] == "value_not_allowed"
    assert "low, med, high, vhigh" in str(error["message"])


@pytest.mark.parametrize(
    ("field", "value", "suggested"),
    [
        ("buying", "LOW", "low"),
        ("buying", "VHIGH ", "vhigh"),
        ("maint", "v-high", "vhigh"),
        ("doors", "5 More", "5more"),
    ],
)
def test_a_text_that_is_an_allowed_value_but_for_case_spaces_and_hyphens_is_refused_with_that_value(
    good_row: dict[str, object], field: str, value: str, suggested: str
) -> None:
    error = only_error({**good_row, field: value})
    allowed = ", ".join(DOMAIN.values[field])
    assert error["type"] == "value_not_allowed"
    assert error["message"] == (
        f"{field} has the value {value!r}, which is not allowed; allowed values: {allowed}; did you mean {suggested!r}?"
    )


@pytest.mark.parametrize("value", ["cheap", "hihg", "vhİgh", "\uff2c\uff2f\uff37", 3, True])
def test_a_value_unlike_any_allowed_one_gets_no_suggestion(good_row: dict[str, object], value: object) -> None:
    assert "did you mean" not in str(only_error({**good_row, "buying": value})["message"])


def test_the_api_schema_and_the_rows_word_a_refusal_alike(good_row: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as refused:
        CarInput(**{**good_row, "safety": "High"})
    assert str(only_error({**good_row, "safety": "High"})["message"]) in str(refused.value)
    assert "did you mean 'high'?" in str(refused.value)


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
    errors = errors_of(frame)
    assert [(e["row"], e["field"], e["type"]) for e in errors] == [(1, "persons", "null_value")]


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


def test_errors_keep_row_positions(good_row: dict[str, object]) -> None:
    errors = errors_of([good_row, {**good_row, "safety": "none"}, good_row])
    assert [(e["row"], e["field"]) for e in errors] == [(1, "safety")]


def nested(depth: int) -> object:
    value: object = "low"
    for _ in range(depth):
        value = [value]
    return value


def test_a_deeply_nested_value_is_named_and_shown_a_few_levels_deep(good_row: dict[str, object]) -> None:
    error = only_error([{**good_row, "buying": nested(5000)}])
    assert error["value"] == "<list>"
    assert "has the value [[[[...]]]], which" in str(error["message"])


def test_long_strings_are_cut_in_errors(good_row: dict[str, object]) -> None:
    error = only_error([{**good_row, "buying": "x" * 10_000}])
    assert error["value"] == "x" * MAX_ECHOED_CHARS + "..."
    assert len(str(error["message"])) < 300
    unknown = only_error([{**good_row, "y" * 10_000: 1}])
    assert unknown["field"] == "y" * MAX_ECHOED_CHARS + "..."


def test_an_integer_beyond_64_bits_is_shown_as_its_digits(good_row: dict[str, object]) -> None:
    # Python's JSON parser makes such an integer of a long number; JSON encoders refuse it.
    error = only_error([{**good_row, "doors": 10**20}])
    assert error["value"] == "1" + "0" * 20
    assert only_error([{**good_row, "doors": 2**64 - 1}])["value"] == 2**64 - 1
    huge = only_error([{**good_row, "doors": 10**1000}])
    assert huge["value"] == "1" + "0" * (MAX_ECHOED_CHARS - 1) + "..."


def test_errors_are_bounded_and_the_rest_counted(good_row: dict[str, object]) -> None:
    rows: list[dict[str, object]] = [{}] * 10_000 + [good_row]
    *listed, summary = errors_of(rows)
    assert len(listed) == MAX_LISTED_ERRORS
    # 6 missing fields per empty row: rows 0-15 are listed whole, row 16 in part.
    assert {e["row"] for e in listed} == set(range(17))
    assert summary["type"] == "too_many_errors"
    assert summary["value"] == 10_000 - 16
    assert f"{10_000 - 16} more rows" in summary["message"]


def test_a_row_with_thousands_of_unknown_fields_lists_only_the_bound(good_row: dict[str, object]) -> None:
    row = {**good_row, **{f"extra{i}": 1 for i in range(50_000)}}
    *listed, summary = errors_of([row])
    assert [e["field"] for e in listed] == [f"extra{i}" for i in range(MAX_LISTED_ERRORS)]
    assert summary["type"] == "too_many_errors"
    assert summary["value"] == 1


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("4", True), (4, True), (4.0, True), (True, False), (1, False), ("04", False), (" 4", False), (None, False)],
)
def test_one_definition_decides_for_rows_and_columns(
    good_row: dict[str, object], value: object, accepted: bool
) -> None:
    row = {**good_row, "doors": value}
    for input_data in ([row], Columns({name: [item] for name, item in row.items()})):
        try:
            DOMAIN.locate(input_data)
        except InvalidRowsError:
            assert not accepted
        else:
            assert accepted


@pytest.mark.parametrize(
    ("value", "spelled"), [(True, "true"), (False, "false"), ([True, None], "[true, null]"), ("True", "'True'")]
)
def test_booleans_and_null_are_shown_as_json_spells_them(
    good_row: dict[str, object], value: object, spelled: str
) -> None:
    error = only_error([{**good_row, "safety": value}])
    assert f"has the value {spelled}, which" in str(error["message"])
