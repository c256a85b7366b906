"""The quality bar on the real data: stratified 5-fold CV of a fresh pipeline."""

from __future__ import annotations

import pandas as pd

from car_evaluation_model import make_prediction
from car_evaluation_model.config.core import config
from car_evaluation_model.train_pipeline import cross_validation_scores


def test_cross_validated_accuracy_and_macro_f1(dataset: pd.DataFrame) -> None:
    scores = cross_validation_scores(dataset[config.model.feature_names], dataset[config.model.target])
    assert scores["accuracy"] >= 0.998, scores
    assert scores["f1_macro"] >= 0.995, scores


def test_every_class_is_predicted_on_the_full_domain(dataset: pd.DataFrame) -> None:
    result = make_prediction(input_data=dataset[config.model.feature_names])
    assert result["predictions"] is not None
    assert set(result["predictions"]) == set(config.model.classes)
