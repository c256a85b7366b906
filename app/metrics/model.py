"""The model's facts and the training data's value shares, set in the app's lifespan.

Reading them loads the model card and the training data, so they are set when the app starts,
not when it is built.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from car_evaluation_model import ModelArtifactError, load_model_card, training_value_shares


class ModelFacts:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.model_info = Gauge(
            "car_evaluation_model_info",
            "The model being served: always 1, its facts in the labels.",
            ["version", "estimator", "data_sha256"],
            multiprocess_mode="max",
            registry=registry,
        )
        self.training_share = Gauge(
            "car_evaluation_training_value_ratio",
            "Share of the training rows that have each feature value: the baseline for input drift.",
            ["feature", "value"],
            multiprocess_mode="max",
            registry=registry,
        )

    def publish(self) -> None:
        try:
            card = load_model_card()
            self.model_info.labels(card["version"], card["estimator"], card["data"]["sha256"]).set(1)
        except ModelArtifactError:
            pass  # no model to describe: /health and /v2/health/ready say why
        for feature, shares in training_value_shares().items():
            for value, share in shares.items():
                self.training_share.labels(feature, value).set(share)
