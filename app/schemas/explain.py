from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.predict import ClassLabel
from car_evaluation_model import __version__ as model_version
from car_evaluation_model.config.core import config

FeatureName: Any = Literal.__getitem__(tuple(config.model.feature_names))

# The article's car (low, low, 4, more, big, high), rounded; `POST /explain` gives the full figures.
EXPLANATION_EXAMPLE: dict[str, Any] = {
    "prediction": "vgood",
    "probabilities": {"unacc": 5.7e-9, "acc": 8.1e-10, "good": 6.1e-8, "vgood": 0.99999993},
    "base_values": {"unacc": 0.7002, "acc": 0.2222, "good": 0.0399, "vgood": 0.0376},
    "shapley": {
        "vgood": {
            "buying": 0.2324,
            "maint": 0.1109,
            "doors": 0.0134,
            "persons": 0.1385,
            "lug_boot": 0.1518,
            "safety": 0.3154,
        },
    },
    "counterfactuals": [
        {"feature": "buying", "value": "high", "prediction": "acc", "probability": 0.999999},
        {"feature": "safety", "value": "low", "prediction": "unacc", "probability": 1.0},
    ],
}


class Counterfactual(BaseModel):
    feature: FeatureName = Field(description="The feature changed.")
    value: str = Field(description="Its new value, one of the feature's allowed values.")
    prediction: ClassLabel = Field(description="The class predicted after the change.")
    probability: float = Field(description="That class's probability after the change.")


class Explanation(BaseModel):
    prediction: ClassLabel = Field(description="The predicted class.")
    probabilities: dict[ClassLabel, float] = Field(description="The probability of each class.")
    base_values: dict[ClassLabel, float] = Field(
        description="Per class, the mean probability over the training data: the prediction before any feature "
        "is known."
    )
    shapley: dict[ClassLabel, dict[FeatureName, float]] = Field(
        description="Per class and feature, the exact Shapley value: how much knowing the feature moved that class's "
        "probability from its base value. Base value plus the six values is the probability."
    )
    counterfactuals: list[Counterfactual] = Field(
        description="Every single-feature change that changes the predicted class (empty when none does)."
    )


class ExplainResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"explanations": [EXPLANATION_EXAMPLE], "version": model_version}]}
    )

    explanations: list[Explanation] = Field(description="One explanation per input row, in input order.")
    version: str = Field(description="Version of the model package that answered.")
