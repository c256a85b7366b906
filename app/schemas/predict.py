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
                    # What the service answers for ARTICLE_EXAMPLE, every digit (a test checks it).
                    "predictions": ["vgood", "unacc"],
                    "probabilities": [
                        {
                            "unacc": 5.6695525441761846e-9,
                            "acc": 8.11096717250882e-10,
                            "good": 6.064746892246965e-8,
                            "vgood": 0.9999999328718819,
                        },
                        {
                            "unacc": 0.9999999647510979,
                            "acc": 2.9081505169325724e-8,
                            "good": 2.2482851732828794e-9,
                            "vgood": 3.919111821017259e-9,
                        },
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
