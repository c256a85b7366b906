"""The scikit-learn pipeline: guard the columns, encode the categories in order, classify.

Gradient-boosted trees on the ordinal codes learn the hierarchical rules behind the data
(stratified 5-fold CV accuracy about 0.999, against 0.838 for the reference design's
logistic regression).
"""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from car_evaluation_model.config.core import ModelConfig, config
from car_evaluation_model.processing.features import column_guard, ordinal_encoder


def build_pipeline(model_config: ModelConfig = config.model) -> Pipeline:
    """A fresh, unfitted pipeline configured from ``config.yml``."""
    hyperparameters = model_config.hyperparameters
    return Pipeline(
        [
            ("match_columns", column_guard()),
            ("ordinal_encoding", ordinal_encoder(model_config)),
            (
                "classifier",
                HistGradientBoostingClassifier(
                    learning_rate=hyperparameters.learning_rate,
                    max_iter=hyperparameters.max_iter,
                    max_leaf_nodes=hyperparameters.max_leaf_nodes,
                    min_samples_leaf=hyperparameters.min_samples_leaf,
                    early_stopping=False,  # deterministic: always max_iter rounds
                    random_state=model_config.random_state,
                ),
            ),
        ]
    )
