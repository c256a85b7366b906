"""The Open Inference Protocol (v2, KServe / Triton / MLServer) as pure code: no routes, no I/O.

Spec: ``kserve/open-inference-protocol`` ``specification/protocol/inference_rest.md``, plus Triton's
binary tensor data extension. What the route layer calls::

    check_model(model_name: str, model_version: str | None) -> None        # ProtocolError(404)
    server_metadata(name: str, version: str) -> ServerMetadataResponse     # GET /v2
    model_metadata() -> ModelMetadataResponse                              # GET /v2/models/car-evaluation
    decode_infer_request(body: bytes, header_length: str | None, *, max_rows: int) -> InferRequest
        # header_length: the Inference-Header-Content-Length header's value, None when absent;
        # InferRequest.inputs is the model package's Columns, {feature: [values]}, for make_prediction
    invalid_rows_error(errors: Sequence[RowError]) -> ProtocolError        # make_prediction's errors, as a 400
    encode_infer_response(request: InferRequest, predictions, probabilities, *, model_version: str)
        -> EncodedResponse                                                 # .body, .header_length, .content_type

Every refusal is a ``ProtocolError`` with ``.status`` (400 or 404) and ``.message``; ``.body()`` is
the ``{"error": message}`` JSON. A model that cannot load is ``ProtocolError(503, str(error))`` for
the ``ModelArtifactError``. The health bodies are ``schemas.ServerLiveResponse`` / ``ServerReadyResponse``
/ ``ModelReadyResponse``. An infer route, in outline (``predictions`` and ``probabilities`` are not
None once ``errors`` is)::

    try:
        check_model(name, version)
        request = decode_infer_request(body, headers.get(HEADER), max_rows=settings.MAX_ROWS_PER_REQUEST)
        result = make_prediction(input_data=request.inputs)
        if result["errors"]:
            raise invalid_rows_error(result["errors"])
        encoded = encode_infer_response(request, result["predictions"], result["probabilities"],
                                        model_version=result["version"])
    except ProtocolError as error:
        return Response(error.body(), status_code=error.status, media_type="application/json")
    headers = {} if encoded.header_length is None else {HEADER: str(encoded.header_length)}
    return Response(encoded.body, media_type=encoded.content_type, headers=headers)

The body must be accepted without a Content-Type (tritonclient sends none). The pydantic models in
``schemas`` document the bodies in the OpenAPI schema; ``InferenceRequest`` is the JSON part only.
"""

from app.inference_protocol.binary import HEADER
from app.inference_protocol.errors import PATH_PREFIX, ProtocolError
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
from app.inference_protocol.request import InferRequest, RequestedOutput, decode_infer_request, invalid_rows_error
from app.inference_protocol.response import EncodedResponse, encode_infer_response

__all__ = [
    "EXTENSIONS",
    "HEADER",
    "MODEL_NAME",
    "OUTPUT_NAMES",
    "PATH_PREFIX",
    "PREDICT",
    "PREDICT_PROBA",
    "EncodedResponse",
    "InferRequest",
    "ProtocolError",
    "RequestedOutput",
    "check_model",
    "decode_infer_request",
    "encode_infer_response",
    "invalid_rows_error",
    "model_metadata",
    "server_metadata",
]
