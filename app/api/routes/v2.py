"""The Open Inference Protocol (v2) that KServe, Seldon MLServer and Triton clients speak.

The protocol itself (bodies, binary tensor data, metadata) is ``app.inference_protocol``;
these are its routes, in the same routing table and error path as ``/api/v1``: a refusal
raises ``ApiError``, and their route class (``InferenceProtocolRoute``) has ``app.errors``
answer it in the protocol's ``{"error": "..."}`` shape. The model is ``car-evaluation``; its version is the model
package's. Each model route answers at ``/v2/models/{name}`` and at
``/v2/models/{name}/versions/{version}``, one endpoint on both paths. Infer bodies are taken
with any Content-Type or none (tritonclient sends none).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from app import __version__ as api_version
from app.api.deps import data_plane_of, require_model, settings_of
from app.api.prediction import call_of, rows_refused
from app.api.request_body import read_body
from app.api.routing import InferenceProtocolRoute, RouterWithHead
from app.data_plane import Refusal
from app.errors import JSON_MEDIA_TYPE
from app.inference_protocol import (
    JSON_LENGTH_HEADER,
    MODEL_NAME,
    PATH_PREFIX,
    check_model,
    decode_infer_request,
    encode_infer_response,
    model_metadata,
    server_metadata,
)
from app.inference_protocol.schemas import (
    InferenceErrorResponse,
    InferenceResponse,
    ModelMetadataResponse,
    ModelReadyResponse,
    ServerLiveResponse,
    ServerMetadataResponse,
    ServerReadyResponse,
)
from app.request_state import header

TAG = "Open Inference Protocol (v2)"
router = RouterWithHead(prefix=PATH_PREFIX, tags=[TAG], route_class=InferenceProtocolRoute)

MODEL_PATH = "/models/{model_name}"
VERSION_PATH = "/models/{model_name}/versions/{model_version}"
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": InferenceErrorResponse, "description": "The model cannot be loaded."}
}
UNKNOWN_MODEL: dict[int | str, dict[str, Any]] = {
    404: {"model": InferenceErrorResponse, "description": "No such model or version."}
}
JSON_LENGTH_HEADER_KEY = JSON_LENGTH_HEADER.lower().encode()  # as ASGI spells header names


def documented(path: str, **extra: Any) -> dict[str, Any]:
    """``openapi_extra`` naming the path's parameters: the endpoints read them through ``requested_model``."""
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    return {"openapi_extra": {"parameters": parameters, **extra}}


async def requested_model(request: Request) -> str | None:
    """404 unless the path names this model (and this version, if it names one); the version named."""
    model_version: str | None = request.path_params.get("model_version")
    check_model(request.path_params["model_name"], model_version)
    return model_version


RequestedModel = Annotated[str | None, Depends(requested_model)]


@router.get("", response_model=ServerMetadataResponse)
async def server(request: Request) -> ServerMetadataResponse:
    """Server metadata: name, version and the protocol extensions it supports."""
    return server_metadata(settings_of(request).PROJECT_NAME, api_version)


@router.get("/health/live", response_model=ServerLiveResponse)
async def live() -> ServerLiveResponse:
    """The process answers: `{"live": true}`."""
    return ServerLiveResponse(live=True)


@router.get(
    "/health/ready", response_model=ServerReadyResponse, responses=NOT_READY, dependencies=[Depends(require_model)]
)
async def ready() -> ServerReadyResponse:
    """`{"ready": true}` once the model is loaded; 503 when it cannot be."""
    return ServerReadyResponse(ready=True)


@router.get(MODEL_PATH, response_model=ModelMetadataResponse, responses=UNKNOWN_MODEL, **documented(MODEL_PATH))
@router.get(VERSION_PATH, response_model=ModelMetadataResponse, responses=UNKNOWN_MODEL, **documented(VERSION_PATH))
async def metadata(_: RequestedModel) -> ModelMetadataResponse:
    """The model's inputs (one BYTES tensor per feature, with its allowed values) and outputs."""
    return model_metadata()


READY: dict[str, Any] = {
    "response_model": ModelReadyResponse,
    "responses": {**UNKNOWN_MODEL, **NOT_READY},
    "dependencies": [Depends(require_model)],
}


@router.get(f"{MODEL_PATH}/ready", **READY, **documented(MODEL_PATH))
@router.get(f"{VERSION_PATH}/ready", **READY, **documented(VERSION_PATH))
async def model_ready(_: RequestedModel) -> ModelReadyResponse:
    """`{"name": "car-evaluation", "ready": true}` once the model is loaded; 503 when it cannot be."""
    return ModelReadyResponse(name=MODEL_NAME, ready=True)


INFER: dict[str, Any] = {
    # The endpoint encodes its answer itself (JSON or binary): the model documents it.
    "responses": {
        200: {"model": InferenceResponse, "description": "Successful Response"},
        400: {
            "model": InferenceErrorResponse,
            "description": "A bad request: the message names the tensor, row and value.",
        },
        413: {"model": InferenceErrorResponse, "description": "The body, sent or decoded, is larger than the limit."},
        415: {"model": InferenceErrorResponse, "description": "The body's Content-Encoding is unknown."},
        **UNKNOWN_MODEL,
        **NOT_READY,
    },
}
INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}},
        "description": "JSON, or JSON followed by binary tensor data (`Inference-Header-Content-Length`).",
    }
}


@router.post(f"{MODEL_PATH}/infer", **INFER, **documented(MODEL_PATH, **INFER_BODY))
@router.post(f"{VERSION_PATH}/infer", **INFER, **documented(VERSION_PATH, **INFER_BODY))
async def infer(request: Request) -> Response:
    """Classify rows sent as one BYTES tensor per feature; outputs `predict` and `predict_proba`.

    The same answers as `/api/v1/predict`. Tensors may come as JSON or as binary data
    (the binary tensor data extension, tritonclient's default), and so may the outputs.
    """
    await requested_model(request)
    data_plane = data_plane_of(request)
    settings = settings_of(request)
    body = await read_body(request, settings.MAX_REQUEST_BODY_BYTES)
    json_length = header(request.scope, JSON_LENGTH_HEADER_KEY)
    inference = decode_infer_request(body, json_length, max_rows=settings.MAX_ROWS_PER_REQUEST)
    outcome = await data_plane.predict(call_of(request, "v2 infer", "v2", inference.id), inference.inputs)
    if isinstance(outcome, Refusal):
        raise rows_refused(outcome.errors)
    encoded = encode_infer_response(inference, outcome.labels, outcome.probabilities, model_version=outcome.version)
    headers = {} if encoded.header_length is None else {JSON_LENGTH_HEADER: str(encoded.header_length)}
    return Response(encoded.body, media_type=encoded.content_type, headers=headers)
