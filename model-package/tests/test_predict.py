from __future__ import annotations

import math

import pandas as pd
import pytest

from car_evaluation_model import __version__, make_prediction
from car_evaluation_model.processing.data_manager import load_pipeline

CLASSES = ["unacc", "acc", "good", "vgood"]


def test_one_dict_gives_a_label_and_labelled_probabilities(good_row: dict[str, object]) -> None:
    result = make_prediction(input_data=good_row)
    assert result["errors"] is None
    assert result["version"] == __version__
    assert result["predictions"] == ["vgood"]
    probabilities = result["probabilities"]
    assert probabilities is not None
    assert list(probabilities[0]) == CLASSES
    assert math.isclose(sum(probabilities[0].values()), 1.0, rel_tol=1e-9)
    assert max(probabilities[0], key=probabilities[0].__getitem__) == "vgood"


def test_frame_and_list_agree_and_keep_row_order(dataset: pd.DataFrame, features: pd.DataFrame) -> None:
    sample = features.sample(50, random_state=0)
    from_frame = make_prediction(input_data=sample)
    records: list[dict[str, object]] = sample.to_dict(orient="records")  # type: ignore[assignment]
    from_list = make_prediction(input_data=records)
    assert from_frame == from_list
    assert from_frame["predictions"] == dataset.loc[sample.index, "class"].tolist()


def test_probabilities_follow_the_pipeline_classes(features: pd.DataFrame) -> None:
    sample = features.head(20)
    result = make_prediction(input_data=sample)
    pipeline = load_pipeline()
    raw = pipeline.predict_proba(sample)
    assert result["probabilities"] is not None
    for row, expected in zip(result["probabilities"], raw, strict=True):
        assert [row[str(label)] for label in pipeline.classes_] == pytest.approx(expected.tolist(), abs=1e-12)


def test_any_invalid_row_means_no_predictions(good_row: dict[str, object]) -> None:
    result = make_prediction(input_data=[good_row, {**good_row, "buying": "cheap"}])
    assert result["predictions"] is None
    assert result["probabilities"] is None
    assert result["errors"] is not None
    assert [(e["row"], e["field"], e["value"]) for e in result["errors"]] == [(1, "buying", "cheap")]
