"""The Open Inference Protocol (v2, KServe / Triton / MLServer) as pure code: no routes, no I/O.

Spec: ``kserve/open-inference-protocol`` ``specification/protocol/inference_rest.md``, plus Triton's
binary tensor data extension. What the routes (``app.api.routes.v2``) call::

    check_model(model_name: str, model_version: str | None) -> None        # ApiError(404)
    server_metadata(name: str, version: str) -> ServerMetadataResponse     # GET /v2
    model_metadata() -> ModelMetadataResponse                              # GET /v2/models/car-evaluation
    decode_infer_request(body: bytes, header_length: str | None, *, max_rows: int) -> InferRequest
        # header_length: the Inference-Header-Content-Length header's value, None when absent;
        # InferRequest.inputs is the model package's Columns, {feature: [values]}, for make_prediction
    encode_infer_response(request: InferRequest, predictions, probabilities, *, model_version: str)
        -> EncodedResponse                                                 # .body, .header_length, .content_type

A refusal here is the service's ``ApiError`` with ``.status_code`` (400 or 404) and ``.message``;
the routes answer it as ``{"error": message}``. The values themselves are checked by the model
package. The pydantic models in ``schemas`` check the JSON part of a request and document the
bodies in the OpenAPI schema. The body must be accepted without a Content-Type (tritonclient sends none).
"""

from app.inference_protocol.binary import JSON_LENGTH_HEADER
from app.inference_protocol.errors import PATH_PREFIX
from app.inference_protocol.metadata import (
    EXTENSIONS,
    MODEL_NAME,
    OUTPUT_NAMES,
    PREDICT,
    PREDICT_PROBA,
    check_model,
    model_metadata,
    server_metadata,
)
from app.inference_protocol.request import InferRequest, RequestedOutput, decode_infer_request
from app.inference_protocol.response import EncodedResponse, encode_infer_response

__all__ = [
    "EXTENSIONS",
    "JSON_LENGTH_HEADER",
    "MODEL_NAME",
    "OUTPUT_NAMES",
    "PATH_PREFIX",
    "PREDICT",
    "PREDICT_PROBA",
    "EncodedResponse",
    "InferRequest",
    "RequestedOutput",
    "check_model",
    "decode_infer_request",
    "encode_infer_response",
    "model_metadata",
    "server_metadata",
]
