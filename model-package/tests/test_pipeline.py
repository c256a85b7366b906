from __future__ import annotations

import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from car_evaluation_model.config.core import config
from car_evaluation_model.pipeline import build_pipeline


def test_build_pipeline_is_fresh_and_unfitted(dataset: pd.DataFrame) -> None:
    first, second = build_pipeline(), build_pipeline()
    first.fit(dataset[config.model.feature_names], dataset[config.model.target])
    check_is_fitted(first[-1])
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(second[-1])


def test_fit_returns_pipeline_and_learns_all_classes(dataset: pd.DataFrame) -> None:
    pipeline = build_pipeline()
    X, y = dataset[config.model.feature_names], dataset[config.model.target]
    assert pipeline.fit(X, y) is pipeline
    assert set(pipeline.classes_) == set(config.model.classes)
    assert pipeline.predict_proba(X.head(3)).shape == (3, 4)
    assert clone(pipeline).get_params()["classifier__random_state"] == config.model.random_state


def test_encoding_follows_the_natural_order(features: pd.DataFrame) -> None:
    encoder = build_pipeline()[:2].fit(features)
    encoded = encoder.transform(
        pd.DataFrame(
            [{"buying": "low", "maint": "vhigh", "doors": "5more", "persons": "2", "lug_boot": "med", "safety": "high"}]
        )
    )
    assert encoded.iloc[0].tolist() == [0, 3, 3, 0, 1, 2]


def test_columns_are_reordered_and_missing_columns_refused(features: pd.DataFrame) -> None:
    encoder = build_pipeline()[:2].fit(features)
    shuffled = features.head(2)[list(reversed(features.columns))]
    assert encoder.transform(shuffled).equals(encoder.transform(features.head(2)))
    # MatchVariables fills the missing column with NaN, which the encoder refuses.
    with pytest.raises((ValueError, TypeError)):
        encoder.transform(features.head(2).drop(columns="safety"))


def test_unknown_category_never_reaches_the_classifier(features: pd.DataFrame) -> None:
    encoder = build_pipeline()[:2].fit(features)
    with pytest.raises(ValueError, match="unknown categor"):
        encoder.transform(features.head(1).assign(buying="cheap"))
