"""Bodies built and parsed by tritonclient itself, the way ``InferenceServerClient.infer`` does it."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from tritonclient.http import InferenceServerClient, InferInput, InferRequestedOutput, InferResult

from app.inference_protocol import EncodedResponse
from car_evaluation_model.config.core import config

FEATURES = config.model.feature_names
CLASSES = list(config.model.classes)

# Every car there is, as the data set writes its values.
ALL_CARS = pd.DataFrame(itertools.product(*config.model.allowed_values.values()), columns=FEATURES)


def triton_request(
    frame: pd.DataFrame,
    *,
    binary: bool,
    column_shape: bool = True,
    outputs: list[InferRequestedOutput] | None = None,
    request_id: str = "",
) -> tuple[bytes, str | None]:
    """One BYTES input per column, shape [N, 1] (or [N]); the body and Inference-Header-Content-Length."""
    inputs = []
    for name in frame.columns:
        values: np.ndarray[Any, Any] = frame[name].to_numpy(dtype=object)
        if column_shape:
            values = values.reshape(-1, 1)
        tensor = InferInput(name, list(values.shape), "BYTES")
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    # The builder infer() uses; it returns the header length only when binary data follows the JSON.
    body, json_size = InferenceServerClient.generate_request_body(inputs, outputs=outputs, request_id=request_id)
    return body, None if json_size is None else str(json_size)


def triton_result(encoded: EncodedResponse) -> InferResult:
    return InferResult.from_response_body(encoded.body, header_length=encoded.header_length)
