"""What the server and the model say about themselves: names, versions, tensors, allowed values."""

from __future__ import annotations

from functools import cache
from typing import Any

from app.inference_protocol.errors import not_found
from app.inference_protocol.schemas import MetadataTensor, ModelMetadataResponse, ServerMetadataResponse
from car_evaluation_model import ModelArtifactError, load_model_card
from car_evaluation_model import __version__ as model_package_version
from car_evaluation_model.config.core import ModelConfig, config
from car_evaluation_model.processing.validation import shown

MODEL_NAME = "car-evaluation"
# "<project>_<format>" as the spec's platform names go: a scikit-learn pipeline saved with joblib.
PLATFORM = "sklearn_joblib"
EXTENSIONS = ("binary_tensor_data",)

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"
OUTPUT_NAMES = (PREDICT, PREDICT_PROBA)

# Parameter names in the tensor metadata; clients cannot guess the categories, so they are published.
ALLOWED_VALUES = "allowed_values"
CLASSES = "classes"
# The model card's record of what changed since the version this one replaced (release.publish writes it).
CHANGES_FROM_PREVIOUS = "changes_from_previous"


@cache
def release_changes() -> dict[str, Any] | None:
    try:
        changes: dict[str, Any] | None = load_model_card().get(CHANGES_FROM_PREVIOUS)
    except ModelArtifactError:
        return None  # no model: /v2/health/ready says why
    return changes


def server_metadata(name: str, version: str) -> ServerMetadataResponse:
    return ServerMetadataResponse(name=name, version=version, extensions=list(EXTENSIONS))


def model_metadata(
    model_config: ModelConfig = config.model,
    version: str = model_package_version,
    changes: dict[str, Any] | None = None,
) -> ModelMetadataResponse:
    """One BYTES input per feature with its allowed values; the label and the class probabilities out.

    ``parameters`` holds the diff against the previous version, when the model card records one
    (``changes``, default: the shipped card's).
    """
    classes = list(model_config.classes)
    changes = changes or release_changes()
    return ModelMetadataResponse(
        name=MODEL_NAME,
        versions=[version],
        platform=PLATFORM,
        inputs=[
            MetadataTensor(
                name=feature.name,
                datatype="BYTES",
                shape=[-1, 1],
                parameters={"content_type": "str", ALLOWED_VALUES: list(feature.values)},
            )
            for feature in model_config.features
        ],
        outputs=[
            MetadataTensor(
                name=PREDICT, datatype="BYTES", shape=[-1, 1], parameters={"content_type": "str", CLASSES: classes}
            ),
            # The columns of predict_proba are the classes in this order.
            MetadataTensor(
                name=PREDICT_PROBA, datatype="FP64", shape=[-1, len(classes)], parameters={CLASSES: classes}
            ),
        ],
        parameters={CHANGES_FROM_PREVIOUS: changes} if changes else {},
    )


def check_model(model_name: str, model_version: str | None, version: str = model_package_version) -> None:
    """404 unless the path names this model (and, if it names a version, this version)."""
    if model_name != MODEL_NAME:
        raise not_found(f"unknown model {shown(model_name)}; this server serves {MODEL_NAME!r}")
    if model_version is not None and model_version != version:
        raise not_found(f"unknown version {shown(model_version)} of model {MODEL_NAME!r}; its versions: {version}")
