"""Decode an inference request into the columns the model package takes: ``Columns({feature: [values]})``.

One BYTES tensor per feature, named after it, shape ``[N]`` or ``[N, 1]``, its elements as JSON
``data`` or as binary data after the JSON. The body is parsed with orjson and checked against the
protocol's schema (``schemas.InferenceRequest``), then tensor by tensor; the values themselves are
left to the model package, which checks them as it checks every other input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from app.inference_protocol.binary import JSON_LENGTH_HEADER, decode_bytes_elements, split_body
from app.inference_protocol.errors import bad_request
from app.inference_protocol.metadata import OUTPUT_NAMES
from app.inference_protocol.schemas import InferenceRequest, Parameters, RequestInput
from car_evaluation_model import Columns
from car_evaluation_model.config.core import config
from car_evaluation_model.processing.validation import shown

# MLServer's codecs: "str" for a column of strings; PandasCodec sends "pd_json" (each element JSON
# text) for a column holding anything else, such as the integers 2, 3, 4 for doors.
PLAIN_CONTENT_TYPES = (None, "str")
PD_JSON_CONTENT_TYPE = "pd_json"
CONTENT_TYPES = (*PLAIN_CONTENT_TYPES, PD_JSON_CONTENT_TYPE)
# Parameters of other Triton extensions this server does not implement; ignoring them would answer
# something other than what the client asked for.
UNSUPPORTED_PARAMETERS = ("shared_memory_region", "classification")
FEATURES = tuple(config.model.feature_names)  # one input tensor each, in the model's order


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    name: str
    binary: bool  # sent in the binary tail instead of as JSON data


# Every output, as JSON data or as binary data: what a request that names no output gets.
ALL_OUTPUTS = {binary: tuple(RequestedOutput(name, binary) for name in OUTPUT_NAMES) for binary in (False, True)}


@dataclass(frozen=True, slots=True)
class InferRequest:
    id: str | None
    inputs: Columns  # one column per feature, in the config's order
    outputs: tuple[RequestedOutput, ...]  # in the order to answer them


def decode_infer_request(body: bytes, header_length: str | None, *, max_rows: int) -> InferRequest:
    """Parse and check an infer body; ``header_length`` is the ``Inference-Header-Content-Length`` value."""
    json_part, tail = split_body(body, header_length)
    request = _validated(_json_object(json_part))
    columns = _columns(request.inputs, _BinaryTail(tail), max_rows)
    inputs = Columns({name: columns[name] for name in FEATURES})
    return InferRequest(id=request.id, inputs=inputs, outputs=_requested_outputs(request))


def _json_object(json_part: bytes) -> dict[str, Any]:
    # orjson then pydantic on the objects is twice as fast as pydantic's own JSON parser here. orjson
    # refuses nesting deeper than 1024 and reads integers beyond 64 bits as floats (not an int: a 400).
    try:
        parsed = orjson.loads(json_part)
    except orjson.JSONDecodeError as error:
        raise bad_request(f"the request is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise bad_request("the request must be a JSON object")
    return parsed


def _validated(parsed: dict[str, Any]) -> InferenceRequest:
    try:
        return InferenceRequest.model_validate(parsed)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        first = problems[0]
        location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
        message = f"invalid inference request: {location.lstrip('.')}: {first['msg']}"
        more = len(problems) - 1
        raise bad_request(message + (f" (and {more} more problems)" if more else "")) from None


class _BinaryTail:
    """Hands out each binary input's bytes in the order of the inputs, as the extension lays them out."""

    def __init__(self, tail: bytes | None) -> None:
        self._tail = tail
        self._offset = 0

    def take(self, tensor: str, size: object) -> bytes:
        if self._tail is None:
            raise bad_request(
                f"input {tensor!r} has binary_data_size but the request has no {JSON_LENGTH_HEADER} header"
            )
        if type(size) is not int or size < 0:
            raise bad_request(f"input {tensor!r}: binary_data_size must be a non-negative integer, not {shown(size)}")
        left = len(self._tail) - self._offset
        if size > left:
            raise bad_request(
                f"input {tensor!r}: binary_data_size is {size} but only {left} bytes of binary data are left"
            )
        chunk = self._tail[self._offset : self._offset + size]
        self._offset += size
        return chunk

    def check_all_taken(self) -> None:
        if self._tail is not None and self._offset != len(self._tail):
            raise bad_request(
                f"{len(self._tail) - self._offset} bytes of binary data follow the inputs' binary data "
                f"(their binary_data_size add up to {self._offset})"
            )


def _columns(inputs: list[RequestInput], tail: _BinaryTail, max_rows: int) -> dict[str, list[Any]]:
    names = FEATURES
    columns: dict[str, list[Any]] = {}
    for tensor in inputs:
        if tensor.name not in names:
            raise bad_request(f"unknown input {shown(tensor.name)}; the inputs are {', '.join(names)}")
        if tensor.name in columns:
            raise bad_request(f"input {tensor.name!r} is given twice")
        column = columns[tensor.name] = _elements(tensor, tail, max_rows)
        first_name = inputs[0].name  # the first tensor: checked in the first round
        if len(column) != len(columns[first_name]):
            raise bad_request(
                f"input {tensor.name!r} has {len(column)} rows but {first_name!r} has {len(columns[first_name])}; "
                "every input must have one element per row"
            )
    tail.check_all_taken()
    missing = [name for name in names if name not in columns]
    if missing:
        raise bad_request(f"missing input {', '.join(map(repr, missing))}; the inputs are {', '.join(names)}")
    if not columns[names[0]]:
        raise bad_request("the inputs have no rows; send at least one")
    return columns


def _elements(tensor: RequestInput, tail: _BinaryTail, max_rows: int) -> list[Any]:
    name, parameters = tensor.name, tensor.parameters or {}
    if tensor.datatype != "BYTES":
        raise bad_request(f"input {name!r} has datatype {shown(tensor.datatype)}; it must be BYTES")
    content_type = None
    if parameters:  # most clients send none: their checks are skipped, for speed
        _refuse_unsupported(parameters, "input", name)
        content_type = parameters.get("content_type")
        if content_type not in CONTENT_TYPES:
            raise bad_request(
                f"input {name!r} has content_type {shown(content_type)}; supported: str, {PD_JSON_CONTENT_TYPE} or none"
            )
    rows = _rows_in_shape(tensor, max_rows)
    if "binary_data_size" in parameters:
        if tensor.data is not None:
            raise bad_request(f"input {name!r} has both data and binary_data_size; send one")
        values = decode_bytes_elements(tail.take(name, parameters["binary_data_size"]), name, rows)
    elif tensor.data is None:
        raise bad_request(f"input {name!r} has no data (and no binary_data_size)")
    else:
        values = _json_elements(tensor, tensor.data, rows)
    return _from_json_text(name, values) if content_type == PD_JSON_CONTENT_TYPE else values


def _rows_in_shape(tensor: RequestInput, max_rows: int) -> int:
    shape = tensor.shape
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1) or shape[0] < 0:
        raise bad_request(f"input {tensor.name!r} has shape {shown(shape)}; it must be [N] or [N, 1], one per row")
    if shape[0] > max_rows:
        raise bad_request(f"input {tensor.name!r} has {shape[0]} rows; at most {max_rows} rows per request")
    return shape[0]


def _json_elements(tensor: RequestInput, data: list[Any], rows: int) -> list[Any]:
    if len(tensor.shape) == 2 and data and isinstance(data[0], list):
        # Nested like its shape, [[a], [b], ...], which the spec allows as well as flat.
        nested, data = data, []
        for row, element in enumerate(nested):
            if not (isinstance(element, list) and len(element) == 1):
                raise bad_request(
                    f"input {tensor.name!r}, row {row}: expected a one-element list, got {shown(element)}"
                )
            data.append(element[0])
    if len(data) != rows:
        raise bad_request(
            f"input {tensor.name!r} has shape {tensor.shape}, so {rows} elements, but its data has {len(data)}"
        )
    return data


def _from_json_text(name: str, texts: list[Any]) -> list[Any]:
    values: list[Any] = []
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise bad_request(
                f"input {name!r}, row {row}: content_type {PD_JSON_CONTENT_TYPE} needs JSON text, not {shown(text)}"
            )
        try:
            values.append(orjson.loads(text))
        except orjson.JSONDecodeError:
            raise bad_request(
                f"input {name!r}, row {row}: {shown(text)} is not valid JSON ({PD_JSON_CONTENT_TYPE})"
            ) from None
    return values


def _refuse_unsupported(parameters: Parameters, kind: str, name: str) -> None:
    for key in UNSUPPORTED_PARAMETERS:
        if key in parameters:
            raise bad_request(f"{kind} {name!r}: the parameter {key} is not supported by this server")


def _flag(parameters: Parameters, key: str, where: str) -> bool | None:
    value = parameters.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise bad_request(f"{where}: the parameter {key} must be true or false, not {shown(value)}")


def _requested_outputs(request: InferenceRequest) -> tuple[RequestedOutput, ...]:
    binary_by_default = _flag(request.parameters or {}, "binary_data_output", "the request") or False
    if not request.outputs:
        return ALL_OUTPUTS[binary_by_default]
    outputs: dict[str, RequestedOutput] = {}
    for output in request.outputs:
        if output.name not in OUTPUT_NAMES:
            raise bad_request(f"unknown output {shown(output.name)}; the outputs are {', '.join(OUTPUT_NAMES)}")
        if output.name in outputs:
            raise bad_request(f"output {output.name!r} is requested twice")
        parameters = output.parameters or {}
        _refuse_unsupported(parameters, "output", output.name)
        binary = _flag(parameters, "binary_data", f"output {output.name!r}")
        outputs[output.name] = RequestedOutput(output.name, binary_by_default if binary is None else binary)
    return tuple(outputs.values())
