"""Encode the model's answer as an inference response, JSON or JSON plus binary tail."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson
from starlette.responses import JSONResponse

from app.inference_protocol.binary import join_bytes_elements, pack_fp64
from app.inference_protocol.metadata import MODEL_NAME, PREDICT
from app.inference_protocol.request import InferRequest
from car_evaluation_model.config.core import config

BINARY_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class EncodedResponse:
    body: bytes
    # The Inference-Header-Content-Length to send: the length of the JSON part when binary
    # outputs follow it, None when the body is JSON alone (and the header must not be sent).
    header_length: int | None

    @property
    def content_type(self) -> str:
        return JSONResponse.media_type if self.header_length is None else BINARY_CONTENT_TYPE


def encode_infer_response(
    request: InferRequest,
    predictions: Sequence[str],
    probabilities: Sequence[Mapping[str, float]],
    *,
    model_version: str,
    classes: Sequence[str] = config.model.classes,
) -> EncodedResponse:
    """The outputs the request asked for: ``predict`` [N, 1] labels, ``predict_proba`` [N, classes] FP64."""
    outputs: list[dict[str, Any]] = []
    binary_parts: list[bytes] = []
    for requested in request.outputs:
        datatype, shape, data = _output_tensor(requested.name, predictions, probabilities, classes)
        output: dict[str, Any] = {"name": requested.name, "datatype": datatype, "shape": shape}
        if requested.binary:
            packed = _PACKERS[datatype](data)
            output["parameters"] = {"binary_data_size": len(packed)}
            binary_parts.append(packed)
        else:
            output["data"] = data
        outputs.append(output)
    header: dict[str, Any] = {"model_name": MODEL_NAME, "model_version": model_version}
    if request.id is not None:
        header["id"] = request.id
    header["outputs"] = outputs
    json_part = orjson.dumps(header)
    if not binary_parts:
        return EncodedResponse(json_part, None)
    return EncodedResponse(json_part + b"".join(binary_parts), len(json_part))


def _output_tensor(
    name: str, predictions: Sequence[str], probabilities: Sequence[Mapping[str, float]], classes: Sequence[str]
) -> tuple[str, list[int], list[Any]]:
    if name == PREDICT:
        return "BYTES", [len(predictions), 1], list(predictions)
    # predict_proba: row-major, the columns in the published class order (the config has at least two
    # classes, so itemgetter gives tuples).
    flat = list(chain.from_iterable(map(itemgetter(*classes), probabilities)))
    return "FP64", [len(probabilities), len(classes)], flat


_PACKERS: dict[str, Callable[[list[Any]], bytes]] = {
    "BYTES": lambda labels: join_bytes_elements(label.encode() for label in labels),
    "FP64": pack_fp64,
}
