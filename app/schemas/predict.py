from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from car_evaluation_model import CarInput
from car_evaluation_model import __version__ as model_version
from car_evaluation_model.config.core import config

ClassLabel: Any = Literal.__getitem__(config.model.classes)

ARTICLE_EXAMPLE: dict[str, Any] = {
    "inputs": [
        {"buying": "low", "maint": "low", "doors": 4, "persons": "more", "lug_boot": "big", "safety": "high"},
        {"buying": "vhigh", "maint": "med", "doors": "2", "persons": "2", "lug_boot": "small", "safety": "low"},
    ]
}


class PredictRequest(BaseModel):
    """Rows to classify. Every field of every row is required; no other fields are accepted."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ARTICLE_EXAMPLE]})

    inputs: list[CarInput] = Field(min_length=1)  # type: ignore[valid-type]


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "predictions": ["vgood", "unacc"],
                    "probabilities": [
                        {"unacc": 0.0, "acc": 0.0, "good": 0.0, "vgood": 1.0},
                        {"unacc": 1.0, "acc": 0.0, "good": 0.0, "vgood": 0.0},
                    ],
                    "version": model_version,
                    "errors": None,
                }
            ]
        }
    )

    predictions: list[ClassLabel] = Field(description="The predicted class label of each row, in input order.")
    probabilities: list[dict[ClassLabel, float]] = Field(description="Per row, the probability of each class.")
    version: str = Field(description="Version of the model package that answered.")
    errors: None = Field(default=None, description="Always null on success; failures are 4xx answers.")
