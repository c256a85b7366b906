"""What a person sees: the prediction page and Swagger UI, in headless chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest

from car_evaluation_model import __version__ as model_version
from car_evaluation_model import explain
from car_evaluation_model.config.core import config
from car_evaluation_model.processing.data_manager import load_dataset
from tests.conftest import API

FEATURES = config.model.feature_names
# What the page calls each feature: its select's label, its bar's and its changes'.
LABELS = {feature.name: feature.description.capitalize() for feature in config.model.features}


def known_rows() -> list[dict[str, str]]:
    """One car of each class from the data set, with its true class."""
    data = load_dataset()
    return [{str(k): str(v) for k, v in row.items()} for row in data.groupby("class").head(1).to_dict(orient="records")]


def test_page_shows_the_model_and_its_quality(page: Any) -> None:
    page.goto("/")
    assert page.title() == "Car Evaluation API"
    assert page.locator("#model-version").inner_text() == model_version
    assert re.fullmatch(r"\d{2}\.\d{2}%", page.locator("#cv-accuracy").inner_text())
    for feature in config.model.features:
        select = page.get_by_label(LABELS[feature.name])  # every select has a label
        options = select.locator("option").all_inner_texts()
        assert options[1:] == list(feature.values)


@pytest.mark.parametrize("row", known_rows(), ids=lambda row: row["class"])
def test_choosing_six_values_shows_the_right_label_and_probabilities(page: Any, row: dict[str, str]) -> None:
    page.goto("/")
    for feature in FEATURES:
        page.select_option(f"select#{feature}", row[feature])
    page.get_by_role("button", name="Predict").click()
    page.locator("#result").wait_for(state="visible")
    assert page.locator("#prediction").inner_text() == row["class"]
    shown = {
        cells.get_attribute("data-class"): float(cells.locator(".value").inner_text().rstrip("%"))
        for cells in page.locator("#probabilities tbody tr").all()
    }
    assert set(shown) == {"unacc", "acc", "good", "vgood"}
    assert max(shown, key=lambda label: shown[label] or 0) == row["class"]
    assert sum(shown.values()) == pytest.approx(100, abs=0.3)
    assert page.locator("#error").is_hidden()


def test_missing_choices_are_named(page: Any) -> None:
    page.goto("/")
    page.select_option("select#buying", "low")
    page.get_by_role("button", name="Predict").click()
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert "Price of the maintenance" in error.inner_text()
    assert page.locator("#result").is_hidden()


def test_a_value_the_model_does_not_know_shows_the_api_error(page: Any) -> None:
    page.goto("/")
    for feature, value in zip(FEATURES, ["low", "low", "4", "more", "big", "high"], strict=True):
        page.select_option(f"select#{feature}", value)
    # A stale page offering a value the current model does not accept.
    page.evaluate(
        """() => {
            const select = document.getElementById('buying');
            select.add(new Option('cheap', 'cheap'));
            select.value = 'cheap';
        }"""
    )
    page.get_by_role("button", name="Predict").click()
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.inner_text().startswith("buying has the value 'cheap'")
    assert "allowed values: low, med, high, vhigh" in error.inner_text()


def test_docs_render_offline_and_try_it_out_works(page: Any) -> None:
    page.goto("/docs")
    # Operations found by what a person sees, their method and path, not by generated ids.
    predict = page.locator(f'.opblock-post:has(.opblock-summary-path[data-path="{API}/predict"])')
    predict.wait_for()
    assert page.locator(".opblock-get", has_text=f"{API}/health").is_visible()
    predict.locator(".opblock-summary").click()
    page.get_by_role("button", name="Execute").click()
    status = predict.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip().startswith("200")
    assert '"predictions"' in predict.locator(".live-responses-table .microlight").first.inner_text()


EXPLAINED_ROWS = [
    {"buying": "low", "maint": "low", "doors": "4", "persons": "more", "lug_boot": "big", "safety": "high"},
    {"buying": "vhigh", "maint": "vhigh", "doors": "2", "persons": "2", "lug_boot": "small", "safety": "low"},
]


def percent(probability: float) -> str:
    return f"{probability * 100:.1f}%"


@pytest.mark.parametrize("row", EXPLAINED_ROWS, ids=["flippable", "no-single-flip"])
def test_the_explanation_shows_what_pushed_toward_the_verdict(page: Any, row: dict[str, str]) -> None:
    [expected] = explain(input_data=[row])["explanations"] or []
    verdict = expected["prediction"]
    page.goto("/")
    for feature in FEATURES:
        page.select_option(f"select#{feature}", row[feature])
    page.get_by_role("button", name="Predict").click()
    page.locator("#explanation").wait_for(state="visible")
    assert page.locator("#explanation h3 .verdict").inner_text() == verdict
    assert page.locator("#base-value").inner_text() == percent(expected["base_values"][verdict])
    assert page.locator("#final-value").inner_text() == percent(expected["probabilities"][verdict])
    values = expected["shapley"][verdict]
    largest = max(abs(value) for value in values.values())
    for feature, value in values.items():
        bar = page.locator(f'#shapley tr[data-feature="{feature}"]')
        assert bar.locator("th").inner_text() == LABELS[feature]
        push = bar.locator(".push")
        assert push.get_attribute("class") == ("push toward" if value >= 0 else "push against")
        width = float(push.evaluate("element => element.style.width").removesuffix("%"))
        assert width == pytest.approx(abs(value) / largest * 50, abs=0.006)
        assert bar.locator(".shap-value").inner_text() == f"{'+' if value >= 0 else '-'}{abs(value) * 100:.1f} pts"
    flips = page.locator("#flips li").all_inner_texts()
    if expected["counterfactuals"]:
        assert flips == [
            f"{LABELS[change['feature']]} → {change['value']}: {change['prediction']} "
            f"({percent(change['probability'])})"
            for change in expected["counterfactuals"]
        ]
    else:
        assert flips == ["None: no change of a single value gives another class."]
