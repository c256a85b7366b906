"""Bodies of the ledger's routes: labels sent to /feedback, live performance from /performance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FEEDBACK_EXAMPLE: dict[str, Any] = {
    "labels": [{"request_id": "f2a82dc9fb2f8d0a0e0d623cde1ae036", "row": 0, "label": "acc"}]
}


class FeedbackRequest(BaseModel):
    """True labels of predictions, by the request id their answer carried and the row's position in it."""

    model_config = ConfigDict(extra="forbid")  # as /predict's body and each label have no other field

    labels: list[dict[str, Any]] = Field(
        min_length=1,
        description="Each `{request_id, row, label}`; a later label for the same row replaces the earlier one.",
        json_schema_extra={"examples": [FEEDBACK_EXAMPLE["labels"]]},
    )


class FeedbackResponse(BaseModel):
    accepted: int = Field(description="Labels stored (all that were sent).")


class ClassScores(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class VersionPerformance(BaseModel):
    model_version: str
    predictions: int = Field(description="Predictions recorded.")
    labelled: int = Field(description="Of those, how many have a label.")
    accuracy: float | None = Field(
        description="Over the labelled predictions (their latest label); null without labels."
    )
    estimated_accuracy: float = Field(description="Mean probability of the predicted class over all predictions.")
    brier: float | None = Field(description="Brier score over the labelled predictions.")
    labels: list[str] = Field(description="The order of the confusion matrix's rows and columns.")
    confusion_matrix: list[list[int]] = Field(description="[i][j]: rows labelled labels[i] and predicted labels[j].")
    per_class: dict[str, ClassScores]


class PerformanceResponse(BaseModel):
    versions: list[VersionPerformance]
