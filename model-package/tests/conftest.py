from __future__ import annotations

import pandas as pd
import pytest

from car_evaluation_model.config.core import config
from car_evaluation_model.processing.data_manager import load_dataset


@pytest.fixture(scope="session")
def dataset() -> pd.DataFrame:
    return load_dataset()


@pytest.fixture(scope="session")
def features(dataset: pd.DataFrame) -> pd.DataFrame:
    return dataset[config.model.feature_names]


@pytest.fixture
def good_row() -> dict[str, object]:
    """The article's example row, with the integer spelling of doors."""
    return {"buying": "low", "maint": "low", "doors": 4, "persons": "more", "lug_boot": "big", "safety": "high"}
