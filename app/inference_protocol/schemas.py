"""The Open Inference Protocol's REST bodies (``kserve/open-inference-protocol``, ``inference_rest.md``).

The request models are strict (no string-to-number coercion) and ignore unknown keys: clients add
their own (KServe's SDK sends ``model_name``). ``data`` is optional on an input because the binary
tensor data extension sends it after the JSON instead (``parameters.binary_data_size``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from car_evaluation_model.config.core import config

# The spec allows string, number and boolean values; MLServer's clients also send objects (headers).
Parameters = dict[str, Any]

# The prediction ledger records a request's id with its rows: a bounded text that every database
# stores as sent (PostgreSQL's text holds no NUL).
MAX_INFERENCE_ID_CHARS = 256


def _recordable(inference_id: str) -> str:
    if len(inference_id) > MAX_INFERENCE_ID_CHARS or not inference_id.isprintable():
        raise ValueError(f"must be at most {MAX_INFERENCE_ID_CHARS} printable characters, no control characters")
    return inference_id


InferenceId = Annotated[str, AfterValidator(_recordable)]

TENSOR_DATA_DESCRIPTION = (
    "The tensor's elements in row-major order, flat or nested like the shape. Absent when the tensor "
    "is sent as binary data after the JSON (`parameters.binary_data_size`)."
)


class InferenceErrorResponse(BaseModel):
    error: str = Field(description="What is wrong, naming the tensor, the row, the value and the allowed values.")


class ServerLiveResponse(BaseModel):
    live: bool


class ServerReadyResponse(BaseModel):
    ready: bool


class ModelReadyResponse(BaseModel):
    name: str
    ready: bool


class ServerMetadataResponse(BaseModel):
    name: str
    version: str
    extensions: list[str] = Field(description="Protocol extensions the server supports.")


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 marks a dimension of any size (the rows).")
    parameters: Parameters | None = None


class ModelMetadataResponse(BaseModel):
    name: str
    versions: list[str] | None = None
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    parameters: Parameters | None = None


class RequestInput(BaseModel):
    model_config = ConfigDict(strict=True)

    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any] | None = Field(default=None, description=TENSOR_DATA_DESCRIPTION)


class RequestOutput(BaseModel):
    model_config = ConfigDict(strict=True)

    name: str
    parameters: Parameters | None = None


class InferenceRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "42",
                    "inputs": [
                        {"name": feature.name, "shape": [1, 1], "datatype": "BYTES", "data": [feature.values[0]]}
                        for feature in config.model.features
                    ],
                    "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
                }
            ]
        },
    )

    id: InferenceId | None = None
    parameters: Parameters | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = Field(default=None, description="The outputs wanted; none means all.")


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any] | None = Field(default=None, description=TENSOR_DATA_DESCRIPTION)


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]
