"""Explanations equal shap's exact explainer, add up to the probabilities, and list every flipping change."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from car_evaluation_model import __version__, explain, make_prediction
from car_evaluation_model.config.core import config
from car_evaluation_model.explanation import ShapleyExplainer
from car_evaluation_model.prediction_table import PredictionTable
from car_evaluation_model.processing.data_manager import load_pipeline

FEATURES = config.model.features
CLASSES = list(config.model.classes)
GOOD_ROW = {"buying": "low", "maint": "low", "doors": "4", "persons": "more", "lug_boot": "big", "safety": "high"}


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return load_pipeline()


@pytest.fixture(scope="module")
def table(pipeline: Pipeline) -> PredictionTable:
    return PredictionTable.from_pipeline(pipeline, config.model)


@pytest.fixture(scope="module")
def domain() -> pd.DataFrame:
    """All 1728 combinations, built from the config (not from the data set nor the explainer)."""
    return pd.DataFrame(list(itertools.product(*(f.values for f in FEATURES))), columns=config.model.feature_names)


@pytest.fixture(scope="module")
def domain_explanations(domain: pd.DataFrame) -> list[Any]:
    result = explain(input_data=domain)
    assert result["errors"] is None
    assert result["explanations"] is not None
    return result["explanations"]


def as_codes(frame: pd.DataFrame) -> np.ndarray:
    """Each value as its position among the allowed values: shap's maskers need numbers."""
    return np.column_stack([frame[f.name].map(f.values.index).to_numpy() for f in FEATURES]).astype(float)


def shap_explanations(
    pipeline: Pipeline, background: pd.DataFrame, rows: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """shap's exact interventional Shapley values (rows, features, classes) and base values (rows, classes)."""

    def probabilities(codes: np.ndarray) -> np.ndarray:
        decoded = {f.name: np.asarray(f.values, dtype=object)[codes[:, i].astype(int)] for i, f in enumerate(FEATURES)}
        return np.asarray(pipeline.predict_proba(pd.DataFrame(decoded)))

    masker = shap.maskers.Independent(as_codes(background), max_samples=len(background))
    answer = shap.explainers.Exact(probabilities, masker)(as_codes(rows))
    columns = [[str(label) for label in pipeline.classes_].index(label) for label in CLASSES]
    return np.asarray(answer.values)[:, :, columns], np.asarray(answer.base_values)[:, columns]


def as_arrays(explanations: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Shapley values (rows, features, classes) and base values (rows, classes) from explanations."""
    shapley = np.array([[[e["shapley"][c][f.name] for c in CLASSES] for f in FEATURES] for e in explanations])
    base = np.array([[e["base_values"][c] for c in CLASSES] for e in explanations])
    return shapley, base


def test_equals_shap_with_the_training_data_as_background(
    pipeline: Pipeline, features: pd.DataFrame, domain_explanations: list[Any]
) -> None:
    # shap takes seconds per row over 1728 background rows: one row of each class but unacc.
    predicted = pd.Series(pipeline.predict(features), index=features.index)
    rows = features[predicted != "unacc"].groupby(predicted).sample(1, random_state=5)
    expected_shapley, expected_base = shap_explanations(pipeline, features, rows)
    result = explain(input_data=rows)
    assert result["explanations"] is not None
    shapley, base = as_arrays(result["explanations"])
    np.testing.assert_allclose(shapley, expected_shapley, rtol=0, atol=1e-9)
    np.testing.assert_allclose(base, expected_base, rtol=0, atol=1e-9)


def test_equals_shap_with_a_small_background_holding_duplicates(
    pipeline: Pipeline, table: PredictionTable, features: pd.DataFrame
) -> None:
    sampled = features.sample(40, random_state=11)
    background = pd.concat([sampled, sampled.head(10), sampled.head(3)])  # some rows two or three times
    explainer = ShapleyExplainer(table).fit(background)
    assert explainer.background_counts_.sum() == 53
    rows = features.sample(25, random_state=12)
    expected_shapley, expected_base = shap_explanations(pipeline, background, rows)
    explanations = explainer.explain(rows)
    assert explanations is not None
    shapley, base = as_arrays(explanations)
    np.testing.assert_allclose(shapley, expected_shapley, rtol=0, atol=1e-9)
    np.testing.assert_allclose(base, expected_base, rtol=0, atol=1e-9)


def test_base_plus_shapley_values_is_the_probability_on_every_row(domain_explanations: list[Any]) -> None:
    for explanation in domain_explanations:
        for label in CLASSES:
            total = explanation["base_values"][label] + sum(explanation["shapley"][label].values())
            assert total == pytest.approx(explanation["probabilities"][label], abs=1e-12)


def test_base_values_are_the_mean_probabilities_over_the_background(
    pipeline: Pipeline, features: pd.DataFrame, domain_explanations: list[Any]
) -> None:
    labels = [str(label) for label in pipeline.classes_]
    mean = dict(zip(labels, pipeline.predict_proba(features).mean(axis=0), strict=True))
    for explanation in domain_explanations:
        assert explanation["base_values"] == pytest.approx(mean, abs=1e-12)
        assert list(explanation["base_values"]) == CLASSES


def test_predictions_and_probabilities_are_make_predictions(
    domain: pd.DataFrame, domain_explanations: list[Any]
) -> None:
    predicted = make_prediction(input_data=domain)
    assert [e["prediction"] for e in domain_explanations] == predicted["predictions"]
    assert [e["probabilities"] for e in domain_explanations] == predicted["probabilities"]
    assert all(list(e["shapley"]) == CLASSES for e in domain_explanations)


def test_counterfactuals_are_exactly_the_single_changes_that_flip_the_prediction(
    pipeline: Pipeline, domain: pd.DataFrame, domain_explanations: list[Any]
) -> None:
    records: list[dict[str, str]] = domain.to_dict(orient="records")  # type: ignore[assignment]
    changes = [
        (position, f.name, value)
        for position, record in enumerate(records)
        for f in FEATURES
        for value in f.values
        if value != record[f.name]
    ]
    changed = pd.DataFrame([{**records[position], name: value} for position, name, value in changes])
    labels = pipeline.predict(changed)
    probabilities = pipeline.predict_proba(changed)
    column_of = {str(label): column for column, label in enumerate(pipeline.classes_)}
    original = pipeline.predict(domain)
    expected: list[list[dict[str, Any]]] = [[] for _ in records]
    for (position, name, value), label, row in zip(changes, labels, probabilities, strict=True):
        if label != original[position]:
            expected[position].append(
                {"feature": name, "value": value, "prediction": str(label), "probability": row[column_of[str(label)]]}
            )
    assert sum(map(len, expected)) > 0
    for explanation, flips in zip(domain_explanations, expected, strict=True):
        listed = explanation["counterfactuals"]
        assert [(c["feature"], c["value"], c["prediction"]) for c in listed] == [
            (c["feature"], c["value"], c["prediction"]) for c in flips
        ]
        assert [c["probability"] for c in listed] == pytest.approx([c["probability"] for c in flips], abs=1e-12)


BAD_INPUTS: list[Any] = [
    [],
    {"buying": "cheap", "maint": "low", "doors": 4, "persons": "more", "lug_boot": "big", "safety": "high"},
    [{"buying": "low", "maint": "low", "doors": 4, "persons": "more", "lug_boot": "big"}],
    [{"buying": "low", "maint": "low", "doors": 4, "persons": "more", "lug_boot": "big", "safety": None}],
    [{"buying": "low", "maint": "low", "doors": 4, "persons": "more", "lug_boot": "big", "safety": "high", "x": 1}],
    [{"buying": "low", "maint": "low", "doors": 4, "persons": "more", "lug_boot": "big", "safety": "high"}, 7],
    pd.DataFrame(columns=config.model.feature_names),
    pd.DataFrame([{"buying": "low", "maint": "low", "doors": 6, "persons": "more", "lug_boot": "big", "safety": None}]),
]


@pytest.mark.parametrize("input_data", BAD_INPUTS)
def test_invalid_input_gets_the_errors_make_prediction_gives(input_data: Any) -> None:
    result = explain(input_data=input_data)
    expected = make_prediction(input_data=input_data)["errors"]
    assert expected is not None
    assert result == {"explanations": None, "version": __version__, "errors": expected}


def test_one_dict_with_integer_spellings_is_explained_like_its_strings(good_row: dict[str, object]) -> None:
    as_strings = {**good_row, "doors": "4"}
    result = explain(input_data=good_row)
    assert result["errors"] is None
    assert result["version"] == __version__
    assert result == explain(input_data=[as_strings])
    assert result["explanations"] is not None
    assert result["explanations"][0]["prediction"] == "vgood"


def test_results_are_copies(good_row: dict[str, object]) -> None:
    first = explain(input_data=good_row)["explanations"]
    assert first is not None
    first[0]["shapley"]["vgood"]["safety"] = 99.0
    first[0]["base_values"]["vgood"] = 99.0
    first[0]["counterfactuals"].clear()
    assert explain(input_data=good_row)["explanations"] != first


def test_fit_follows_scikit_learn_conventions(table: PredictionTable, features: pd.DataFrame) -> None:
    explainer = ShapleyExplainer(table)
    assert not [name for name in vars(explainer) if name.endswith("_")]
    assert explainer.get_params() == {"table": table}
    with pytest.raises(NotFittedError):
        explainer.explain(GOOD_ROW)
    assert explainer.fit(features) is explainer
    assert explainer.classes_ == tuple(CLASSES)
    assert explainer.shapley_values_.shape == (1728, len(FEATURES), len(CLASSES))
    unfitted = clone(explainer)
    assert unfitted.table.labels == table.labels
    assert not [name for name in vars(unfitted) if name.endswith("_")]


@pytest.mark.parametrize(
    "background",
    [
        pd.DataFrame(columns=config.model.feature_names),
        pd.DataFrame([{**GOOD_ROW, "buying": "cheap"}]),
        pd.DataFrame([{name: value for name, value in GOOD_ROW.items() if name != "safety"}]),
    ],
)
def test_background_outside_the_domain_is_refused(table: PredictionTable, background: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="background"):
        ShapleyExplainer(table).fit(background)
