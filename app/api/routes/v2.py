"""The Open Inference Protocol (v2) that KServe, Seldon MLServer and Triton clients speak.

The protocol itself (bodies, binary tensor data, metadata) is ``app.inference_protocol``;
these are its routes, in the same routing table and error path as ``/api/v1``: a refusal
raises ``ProtocolError`` or ``ApiError`` and ``app.api.errors`` answers it in the protocol's
``{"error": "..."}`` shape. The model is ``car-evaluation``; its version is the model
package's. Infer bodies are taken with any Content-Type or none (tritonclient sends none).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from app import __version__ as api_version
from app.api.deps import MetricsDep, SettingsDep
from app.api.errors import JSON_MEDIA_TYPE, model_unavailable
from app.api.inputs import run_model
from app.api.request_body import header, read_body
from app.api.routing import LeanRoute, Router
from app.config import Settings
from app.inference_protocol import (
    HEADER,
    MODEL_NAME,
    PATH_PREFIX,
    check_model,
    decode_infer_request,
    encode_infer_response,
    invalid_rows_error,
    model_metadata,
    server_metadata,
)
from app.inference_protocol.schemas import (
    ErrorResponse,
    InferenceResponse,
    ModelMetadataResponse,
    ModelReadyResponse,
    ServerLiveResponse,
    ServerMetadataResponse,
    ServerReadyResponse,
)
from app.metrics import Metrics
from app.request_state import access_log_fields
from car_evaluation_model import Columns, ModelArtifactError, PredictionResult, make_prediction, warm_up

TAG = "Open Inference Protocol (v2)"
router = Router(prefix=PATH_PREFIX, tags=[TAG])
infer_router = Router(prefix=PATH_PREFIX, tags=[TAG], route_class=LeanRoute)

MODEL_PATH = "/models/{model_name}"
VERSION_PATH = "/models/{model_name}/versions/{model_version}"
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "The model cannot be loaded."}
}
UNKNOWN_MODEL: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such model or version."}
}
HEADER_KEY = HEADER.lower().encode()  # as ASGI spells header names
# Up to this many rows an answer runs on the event loop, as on /api/v1/predict.
INLINE_ROWS = 1000


def _require_model() -> None:
    try:
        warm_up()
    except ModelArtifactError as error:
        raise model_unavailable(error) from error


@router.get("", response_model=ServerMetadataResponse)
async def server(settings: SettingsDep) -> ServerMetadataResponse:
    """Server metadata: name, version and the protocol extensions it supports."""
    return server_metadata(settings.PROJECT_NAME, api_version)


@router.get("/health/live", response_model=ServerLiveResponse)
async def live() -> ServerLiveResponse:
    """The process answers: `{"live": true}`."""
    return ServerLiveResponse(live=True)


@router.get("/health/ready", response_model=ServerReadyResponse, responses=NOT_READY)
async def ready() -> ServerReadyResponse:
    """`{"ready": true}` once the model is loaded; 503 when it cannot be."""
    _require_model()
    return ServerReadyResponse(ready=True)


@router.get(MODEL_PATH, response_model=ModelMetadataResponse, responses=UNKNOWN_MODEL)
async def metadata(model_name: str) -> ModelMetadataResponse:
    """The model's inputs (one BYTES tensor per feature, with its allowed values) and outputs."""
    return await version_metadata(model_name, None)


@router.get(VERSION_PATH, response_model=ModelMetadataResponse, responses=UNKNOWN_MODEL)
async def version_metadata(model_name: str, model_version: str | None) -> ModelMetadataResponse:
    """The same, for one version of the model."""
    check_model(model_name, model_version)
    return model_metadata()


READY: dict[str, Any] = {"response_model": ModelReadyResponse, "responses": {**UNKNOWN_MODEL, **NOT_READY}}


@router.get(f"{MODEL_PATH}/ready", **READY)
async def model_ready(model_name: str) -> ModelReadyResponse:
    """`{"name": "car-evaluation", "ready": true}` once the model is loaded; 503 when it cannot be."""
    return await version_ready(model_name, None)


@router.get(f"{VERSION_PATH}/ready", **READY)
async def version_ready(model_name: str, model_version: str | None) -> ModelReadyResponse:
    """The same, for one version of the model."""
    check_model(model_name, model_version)
    _require_model()
    return ModelReadyResponse(name=MODEL_NAME, ready=True)


def _predict(inputs: Columns) -> PredictionResult:
    return make_prediction(input_data=inputs, count_inputs=True)


INFER: dict[str, Any] = {
    "response_model": InferenceResponse,
    "responses": {
        400: {"model": ErrorResponse, "description": "A bad request: the message names the tensor, row and value."},
        413: {"model": ErrorResponse, "description": "The body, sent or decoded, is larger than the limit."},
        415: {"model": ErrorResponse, "description": "The body's Content-Encoding is unknown."},
        **UNKNOWN_MODEL,
        **NOT_READY,
    },
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}},
            "description": "JSON, or JSON followed by binary tensor data (`Inference-Header-Content-Length`).",
        }
    },
}


@infer_router.post(f"{MODEL_PATH}/infer", **INFER)
async def infer(request: Request, model_name: str, settings: SettingsDep, metrics: MetricsDep) -> Response:
    """Classify rows sent as one BYTES tensor per feature; outputs `predict` and `predict_proba`.

    The same answers as `/api/v1/predict`. Tensors may come as JSON or as binary data
    (the binary tensor data extension, tritonclient's default), and so may the outputs.
    """
    return await _infer(request, settings, metrics, model_name, None)


@infer_router.post(f"{VERSION_PATH}/infer", **INFER)
async def infer_version(
    request: Request, model_name: str, model_version: str, settings: SettingsDep, metrics: MetricsDep
) -> Response:
    """The same, for one version of the model."""
    return await _infer(request, settings, metrics, model_name, model_version)


async def _infer(
    request: Request, settings: Settings, metrics: Metrics, model_name: str, model_version: str | None
) -> Response:
    check_model(model_name, model_version)
    body = await read_body(request, settings.MAX_REQUEST_BODY_BYTES)
    header_length = header(request.scope, HEADER_KEY)
    inference = decode_infer_request(body, header_length, max_rows=settings.MAX_ROWS_PER_REQUEST)
    result = await run_model(_predict, inference.inputs, inline_rows=INLINE_ROWS)
    if result["errors"]:
        access_log_fields(request.scope).update(rows=len(inference.inputs), errors=len(result["errors"]))
        metrics.rejected_rows(result["errors"])
        raise invalid_rows_error(result["errors"])
    predictions, probabilities = result["predictions"] or [], result["probabilities"] or []
    classes = dict(Counter(predictions))
    metrics.predicted("v2", result["version"], classes, result["input_counts"])
    encoded = encode_infer_response(inference, predictions, probabilities, model_version=result["version"])
    access_log_fields(request.scope).update(rows=len(predictions), model_version=result["version"], classes=classes)
    headers = {} if encoded.header_length is None else {HEADER: str(encoded.header_length)}
    return Response(encoded.body, media_type=encoded.content_type, headers=headers)
