"""The feature steps: how raw categorical columns become the numbers the model sees.

Every step comes from a library (feature-engine, scikit-learn); this module only wires them
to the config, so the column set and the category order live in one place (``config.yml``).
"""

from __future__ import annotations

from feature_engine.preprocessing import MatchVariables
from sklearn.preprocessing import OrdinalEncoder

from car_evaluation_model.config.core import ModelConfig


def column_guard() -> MatchVariables:
    """Reorder columns to the training order and refuse to predict with any missing."""
    return MatchVariables(missing_values="raise", match_dtypes=False, verbose=False)


def ordinal_encoder(model_config: ModelConfig) -> OrdinalEncoder:
    """Encode each feature by its position in the config's natural order (low < med < high).

    Unknown categories raise instead of being silently mapped, so invalid rows can never
    reach the classifier.
    """
    return OrdinalEncoder(
        categories=[list(feature.values) for feature in model_config.features],
        handle_unknown="error",
        dtype=float,
    ).set_output(transform="pandas")
