"""The compiled table gives exactly the pipeline's answers, over a domain small enough to tabulate."""

from __future__ import annotations

import copy
import itertools
import json
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from car_evaluation_model import (
    Columns,
    count_values,
    explain,
    make_prediction,
    training_value_shares,
)
from car_evaluation_model.config.core import FeatureSpec, config
from car_evaluation_model.domain import MAX_CARS, Domain, domain_of
from car_evaluation_model.predict import trained_table
from car_evaluation_model.prediction_table import PredictionTable
from car_evaluation_model.processing.data_manager import load_pipeline

CLASSES = list(config.model.classes)


@pytest.fixture(scope="module")
def domain() -> pd.DataFrame:
    """All 1728 combinations, built from the config (not from the data set)."""
    return pd.DataFrame(
        list(itertools.product(*(f.values for f in config.model.features))), columns=config.model.feature_names
    )


def as_matrix(probabilities: Sequence[Mapping[str, float]], classes: list[str]) -> np.ndarray:
    return np.array([[row[label] for label in classes] for row in probabilities])


def test_shipped_model_is_compiled_to_a_table() -> None:
    assert isinstance(trained_table(), PredictionTable)


@pytest.mark.parametrize("as_records", [False, True])
def test_table_equals_the_pipeline_on_the_whole_domain(domain: pd.DataFrame, as_records: bool) -> None:
    pipeline = load_pipeline()
    shuffled = domain.sample(frac=1.0, random_state=7)  # order must not matter
    input_data: Any = shuffled.to_dict(orient="records") if as_records else shuffled
    result = make_prediction(input_data=input_data)
    assert result["errors"] is None
    assert len(shuffled) == 1728
    assert result["predictions"] == [str(label) for label in pipeline.predict(shuffled)]
    assert result["probabilities"] is not None
    classes = [str(label) for label in pipeline.classes_]
    np.testing.assert_allclose(
        as_matrix(result["probabilities"], classes), pipeline.predict_proba(shuffled), rtol=0, atol=1e-12
    )


def test_integer_spellings_hit_the_same_entries(domain: pd.DataFrame) -> None:
    as_text = domain[domain["doors"].isin(["2", "3", "4"]) & domain["persons"].isin(["2", "4"])]
    as_numbers = as_text.assign(doors=as_text["doors"].astype(int), persons=as_text["persons"].astype(int))
    assert make_prediction(input_data=as_numbers) == make_prediction(input_data=as_text)
    records: Any = as_numbers.to_dict(orient="records")
    assert make_prediction(input_data=records) == make_prediction(input_data=as_text)


def change(probabilities: dict[str, float]) -> None:
    probabilities["unacc"] = -1.0


@pytest.mark.parametrize(
    "edit",
    [
        change,
        lambda row: row.clear(),
        lambda row: row.update(unacc=-1.0),
        lambda row: row.pop("unacc"),
        lambda row: row.__ior__({}),
    ],
    ids=["set", "clear", "update", "pop", "merge"],
)
def test_a_caller_cannot_change_the_table_through_a_result(domain: pd.DataFrame, edit: Any) -> None:
    row: Any = domain.iloc[0].to_dict()
    [probabilities] = make_prediction(input_data=row)["probabilities"] or []
    with pytest.raises(TypeError, match="read-only"):
        edit(probabilities)
    assert make_prediction(input_data=row)["probabilities"] == [probabilities]
    assert sum(probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("copied", [dict, copy.copy, copy.deepcopy, lambda row: pickle.loads(pickle.dumps(row))])
def test_a_copy_of_a_result_is_a_plain_dict(domain: pd.DataFrame, copied: Any) -> None:
    row: Any = domain.iloc[0].to_dict()
    [probabilities] = make_prediction(input_data=row)["probabilities"] or []
    duplicate = copied(probabilities)
    assert type(duplicate) is dict
    assert duplicate == probabilities
    change(duplicate)
    assert duplicate["unacc"] == -1.0
    assert orjson.loads(orjson.dumps(probabilities)) == json.loads(json.dumps(probabilities)) == dict(probabilities)


def test_a_config_with_more_cars_than_can_be_served_is_refused() -> None:
    extra = [FeatureSpec(name=f"extra{n}", description="more", values=("a", "b", "c", "d")) for n in range(5)]
    huge = config.model.model_copy(update={"features": (*config.model.features, *extra)})
    with pytest.raises(ValueError, match=f"at most {MAX_CARS} can be served"):
        Domain.from_config(huge)


SPELLINGS: dict[str, list[Any]] = {
    feature.name: [*feature.values, "cheap", "LOW", " med", "", None, 0, 1, 2, 4, 4.0, 5, True, 2.5, ["low"]]
    for feature in config.model.features
}


@st.composite
def maybe_valid_rows(draw: st.DrawFn) -> dict[str, Any]:
    row = {name: draw(st.sampled_from(values)) for name, values in SPELLINGS.items()}
    for name in draw(st.sets(st.sampled_from(list(SPELLINGS)), max_size=2)):
        del row[name]
    if draw(st.booleans()):
        row[draw(st.sampled_from(["colour", "price", "buying "]))] = "x"
    return row


def is_valid(row: dict[str, Any]) -> bool:
    """The definition, value by value: every feature present, no other, each value accepted."""
    features = domain_of(config.model).features
    return row.keys() == {feature.name for feature in features} and all(
        feature.index(row[feature.name]) is not None for feature in features
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(maybe_valid_rows(), min_size=1, max_size=4))
def test_the_lookup_table_accepts_exactly_what_the_definition_accepts(rows: list[dict[str, Any]]) -> None:
    result = make_prediction(input_data=rows)
    assert (result["errors"] is None) == all(map(is_valid, rows))
    if result["errors"] is not None:
        assert {error["row"] for error in result["errors"]} == {
            position for position, row in enumerate(rows) if not is_valid(row)
        }


def value_counts_by_hand(sample: pd.DataFrame) -> dict[str, dict[str, int]]:
    return {
        feature.name: {value: int((sample[feature.name] == value).sum()) for value in feature.values}
        for feature in config.model.features
    }


# Under 16 distinct rows, their values are worked out in a Python loop; from 16 on, with numpy.
@pytest.mark.parametrize("size", [1, 10, 500])
def test_input_rows_count_canonical_values_on_both_paths(domain: pd.DataFrame, size: int) -> None:
    sample = domain.sample(size, random_state=size, replace=True)
    as_numbers: Any = sample.assign(doors=sample["doors"].replace({"2": 2, "3": 3, "4": 4})).to_dict("records")
    expected = value_counts_by_hand(sample)
    input_rows = make_prediction(input_data=as_numbers, keep_rows=True)["input_rows"]
    assert input_rows.counted() == expected
    assert explain(input_data=as_numbers, keep_rows=True)["input_rows"].counted() == expected


@pytest.mark.parametrize("sizes", [[], [1, 2, 3], [1] * 40, [700, 1, 299]])
def test_the_counts_of_many_predictions_add_up(domain: pd.DataFrame, sizes: list[int]) -> None:
    samples = [domain.sample(size, random_state=seed, replace=True) for seed, size in enumerate(sizes)]
    counts = [make_prediction(input_data=sample, keep_rows=True)["input_rows"] for sample in samples]
    everything = pd.concat([domain.head(0), *samples])
    assert count_values(counts, domain_of(config.model)) == value_counts_by_hand(everything)


@pytest.mark.parametrize(
    "as_column", [pd.Series.tolist, pd.Series.to_numpy, pd.Series.copy], ids=["list", "array", "series"]
)
def test_columns_give_the_answers_of_their_rows(domain: pd.DataFrame, as_column: Any) -> None:
    sample = domain.sample(300, random_state=5)
    columns = Columns({name: as_column(sample[name]) for name in reversed(config.model.feature_names)})
    records: Any = sample.to_dict(orient="records")
    by_columns = make_prediction(input_data=columns, keep_rows=True)
    by_rows = make_prediction(input_data=records, keep_rows=True)
    assert by_columns["errors"] is None
    assert by_columns["predictions"] == by_rows["predictions"]
    assert by_columns["probabilities"] == by_rows["probabilities"]
    assert by_columns["input_rows"].counted() == by_rows["input_rows"].counted()


@st.composite
def maybe_valid_columns(draw: st.DrawFn) -> dict[str, list[Any]]:
    rows = draw(st.integers(min_value=0, max_value=4))
    columns = {
        name: draw(st.lists(st.sampled_from(values), min_size=rows, max_size=rows))
        for name, values in SPELLINGS.items()
    }
    for name in draw(st.sets(st.sampled_from(list(SPELLINGS)), max_size=2)):
        del columns[name]
    if draw(st.booleans()):
        columns["colour"] = ["x"] * rows
    return columns


@settings(max_examples=300, deadline=None)
@given(maybe_valid_columns())
def test_columns_are_accepted_and_refused_exactly_as_their_rows(columns: dict[str, list[Any]]) -> None:
    as_columns = Columns(columns)
    assert make_prediction(input_data=as_columns) == make_prediction(input_data=as_columns.rows())


def test_columns_of_different_lengths_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="one value per row"):
        Columns({"buying": ["low", "med"], "maint": ["low"]})


def test_training_value_shares_are_the_data_sets() -> None:
    shares = training_value_shares()
    assert shares["buying"] == {"low": 0.25, "med": 0.25, "high": 0.25, "vhigh": 0.25}
    assert shares["safety"] == pytest.approx({"low": 1 / 3, "med": 1 / 3, "high": 1 / 3})
    assert all(sum(values.values()) == pytest.approx(1.0) for values in shares.values())
