"""What the server and the model say about themselves: names, versions, tensors, allowed values."""

from __future__ import annotations

from app.inference_protocol.errors import ProtocolError
from app.inference_protocol.schemas import MetadataTensor, ModelMetadataResponse, ServerMetadataResponse
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


def server_metadata(name: str, version: str) -> ServerMetadataResponse:
    return ServerMetadataResponse(name=name, version=version, extensions=list(EXTENSIONS))


def model_metadata(
    model_config: ModelConfig = config.model, version: str = model_package_version
) -> ModelMetadataResponse:
    """One BYTES input per feature with its allowed values; the label and the class probabilities out."""
    classes = list(model_config.classes)
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
    )


def check_model(model_name: str, model_version: str | None, version: str = model_package_version) -> None:
    """404 unless the path names this model (and, if it names a version, this version)."""
    if model_name != MODEL_NAME:
        raise ProtocolError(404, f"unknown model {shown(model_name)}; this server serves {MODEL_NAME!r}")
    if model_version is not None and model_version != version:
        raise ProtocolError(
            404, f"unknown version {shown(model_version)} of model {MODEL_NAME!r}; its versions: {version}"
        )
