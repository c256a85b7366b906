from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from car_evaluation_model import CarInput, ModelArtifactError, make_prediction
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


def _the_answer_to_the_example(schema: dict[str, Any]) -> None:
    """The example response is what the model answers for ``ARTICLE_EXAMPLE``, so it follows each new model."""
    try:
        result = make_prediction(input_data=ARTICLE_EXAMPLE["inputs"])
    except ModelArtifactError:  # no model: the schema without an example (/health says why)
        return
    answer = {key: result[key] for key in ("predictions", "probabilities", "version", "errors")}
    schema["examples"] = [orjson.loads(orjson.dumps(answer))]  # as sent: plain, changeable JSON values


class PredictResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra=_the_answer_to_the_example)

    predictions: list[ClassLabel] = Field(description="The predicted class label of each row, in input order.")
    probabilities: list[dict[ClassLabel, float]] = Field(description="Per row, the probability of each class.")
    version: str = Field(description="Version of the model package that answered.")
    errors: None = Field(default=None, description="Always null on success; failures are 4xx answers.")
