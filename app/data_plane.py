"""The data plane: the rows of any route in, the outcome out, and every recorder told.

The shape MLServer (``handlers/dataplane.py``) and KServe (``protocol/dataplane.py``) use: the
routes decode their own input (JSON rows, v2 tensors, an uploaded file) and render their own
answer; between the two they call one step here, which knows nothing of requests, scopes or
response shapes. It runs the model package (on the event loop for small batches, in the thread
pool for larger ones), answers 503 when the model cannot be loaded, and tells every attached
``Recorder`` what was answered and refused: the metrics, the access line, the prediction ledger
attach here once and so see every prediction of every route.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import pyarrow as pa
from fastapi.concurrency import run_in_threadpool

from app.errors import ApiError
from car_evaluation_model import (
    Columns,
    ExplanationResult,
    InputRows,
    ModelArtifactError,
    PredictionResult,
    RowError,
    explain,
    make_prediction,
    warm_up,
)
from car_evaluation_model import __version__ as model_version
from car_evaluation_model.batch import score_arrow
from car_evaluation_model.explanation import Explanation
from car_evaluation_model.predict import trained_table
from car_evaluation_model.prediction_table import Probabilities

Inputs = TypeVar("Inputs")
Result = TypeVar("Result")

# Up to this many rows a prediction (parse, look up, serialise, or list the first errors) and an
# explanation run on the event loop; larger batches in the thread pool.
PREDICT_INLINE_ROWS = 1000
EXPLAIN_INLINE_ROWS = 100


# What a call asks, by name: the ledger records it, and its performance route filters by it.
RouteName = Literal["predict", "explain", "v2 infer", "predict file"]


@dataclass(frozen=True, slots=True)
class Call:
    """Who asked, as the recorders need to know it: no request, no transport."""

    request_id: str
    route: RouteName
    api: str  # the API shape: "v1" or "v2"
    inference_id: str | None = None  # the client's own id of the request (v2's "id")
    # Fields for the request's access line; a recorder adds to them.
    log_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answered:
    """Rows the model answered: each is its position among the cars, so its answer is the table's."""

    version: str  # the model package's
    rows: InputRows
    classes: Mapping[str, int]  # rows per predicted class
    # Each answered row's position in the request, when they are not simply 0, 1, 2...
    row_numbers: Sequence[int] | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """Rows the model refused: counted, not recorded as predictions."""

    request_rows: int  # rows in the request
    refused_rows: int  # rows not answered: every row of a refused request, a scored file's invalid rows
    errors: int  # problems listed (JSON rows), or rows refused (a scored file)
    problems: Mapping[tuple[str | None, str], int]  # (field, kind) -> how many


class Recorder(Protocol):
    """What observes every prediction: told on the event loop, after the outcome is known."""

    def answered(self, call: Call, answer: Answered) -> None: ...

    def refused(self, call: Call, refusal: Refused) -> None: ...


@dataclass(frozen=True, slots=True)
class Prediction:
    version: str
    labels: list[str]
    probabilities: list[Probabilities]


@dataclass(frozen=True, slots=True)
class Explanations:
    version: str
    explanations: list[Explanation]


@dataclass(frozen=True, slots=True)
class Refusal:
    """The rows were not answered: every problem, with its row, field and allowed values."""

    errors: list[RowError]


def model_unavailable(error: ModelArtifactError) -> ApiError:
    """503: the model cannot be loaded (missing artifact, wrong scikit-learn version)."""
    return ApiError.single(503, ["model"], str(error), "model_unavailable")


async def _run(compute: Callable[[Inputs], Result], inputs: Inputs, rows: int, inline_rows: int) -> Result:
    try:
        if rows <= inline_rows:
            return compute(inputs)
        return await run_in_threadpool(compute, inputs)
    except ModelArtifactError as error:
        raise model_unavailable(error) from error


def _predict(inputs: list[Any] | Columns) -> PredictionResult:
    return make_prediction(input_data=inputs, keep_rows=True)


def _explain(inputs: list[Any]) -> ExplanationResult:
    return explain(input_data=inputs, keep_rows=True)


class AccessLineRecorder:
    """What a request's access line says of its rows: how many, the model version, the classes.

    Added up over the request: a file is told table by table, its answered and refused rows apart.
    """

    def answered(self, call: Call, answer: Answered) -> None:
        fields = call.log_fields
        fields["rows"] = fields.get("rows", 0) + len(answer.rows.positions)
        fields["model_version"] = answer.version
        classes = fields.setdefault("classes", {})
        for label, count in answer.classes.items():
            classes[label] = classes.get(label, 0) + count

    def refused(self, call: Call, refusal: Refused) -> None:
        fields = call.log_fields
        fields["rows"] = fields.get("rows", 0) + refusal.refused_rows
        fields["errors"] = fields.get("errors", 0) + refusal.errors


class DataPlane:
    def __init__(self, recorders: Sequence[Recorder] = ()) -> None:
        self.recorders = list(recorders)

    def attach(self, recorder: Recorder) -> None:
        self.recorders.append(recorder)

    def detach(self, recorder: Recorder) -> None:
        self.recorders.remove(recorder)

    def check_ready(self) -> None:
        """Nothing when the model is loaded; the 503 ``ApiError`` saying why it cannot be otherwise."""
        try:
            warm_up()
        except ModelArtifactError as error:
            raise model_unavailable(error) from error

    async def predict(self, call: Call, inputs: list[Any] | Columns) -> Prediction | Refusal:
        """Every row's class and probabilities, or, if any row is invalid, the problems and nothing else."""
        result = await _run(_predict, inputs, len(inputs), PREDICT_INLINE_ROWS)
        if result["errors"]:
            return self._refused(call, len(inputs), result["errors"])
        labels = result["predictions"] or []
        self.tell_answered(call, Answered(result["version"], result["input_rows"], Counter(labels)))
        return Prediction(result["version"], labels, result["probabilities"] or [])

    async def explain(self, call: Call, inputs: list[Any]) -> Explanations | Refusal:
        """Every row's explanation, or, if any row is invalid, the problems and nothing else."""
        result = await _run(_explain, inputs, len(inputs), EXPLAIN_INLINE_ROWS)
        if result["errors"]:
            return self._refused(call, len(inputs), result["errors"])
        explanations = result["explanations"] or []
        classes = Counter(explanation["prediction"] for explanation in explanations)
        self.tell_answered(call, Answered(result["version"], result["input_rows"], classes))
        return Explanations(result["version"], explanations)

    def file_scoring(self, call: Call) -> FileScoring:
        """A file's scoring, table by table; the recorders are told when ``FileScoring.record`` is called."""
        return FileScoring(self, call)

    def tell_answered(self, call: Call, answer: Answered) -> None:
        """Every recorder learns of rows answered (a route's, or a file's table by table)."""
        for recorder in self.recorders:
            recorder.answered(call, answer)

    def _refused(self, call: Call, request_rows: int, errors: list[RowError]) -> Refusal:
        problems: Counter[tuple[str | None, str]] = Counter((error["field"], error["type"]) for error in errors)
        self.tell_refused(call, Refused(request_rows, request_rows, len(errors), problems))
        return Refusal(errors)

    def tell_refused(self, call: Call, refusal: Refused) -> None:
        """Every recorder learns of rows refused."""
        for recorder in self.recorders:
            recorder.refused(call, refusal)


@dataclass(frozen=True, slots=True)
class _ScoredPart:
    """What the recorders are told of one scored table of a file: small, its rows' answers are not kept."""

    first_row: int  # the file's row number of the table's first row
    rows: int
    valid_rows: np.ndarray | None  # each valid row's number in the table; None: every row is valid
    positions: np.ndarray  # each valid row's position among the cars
    classes: dict[str, int]
    problems: Mapping[tuple[str | None, str], int]

    @property
    def rejected(self) -> int:
        return 0 if self.valid_rows is None else self.rows - len(self.valid_rows)


class FileScoring:
    """One file scored table by table (``car_evaluation_model.batch``), its tables numbered in the file's order.

    The recorders are told only by ``record``, once every table is scored: a file refused half-way
    (more rows than allowed, an unreadable row) leaves no trace in the metrics or the ledger, as
    nothing of it was answered. Until then only each table's verdicts are kept, not its answers.
    """

    def __init__(self, plane: DataPlane, call: Call) -> None:
        self._plane = plane
        self._call = call
        self._parts: list[_ScoredPart] = []
        self.rows = 0
        self.rejected = 0
        self._classes: Counter[str] = Counter()

    async def score(self, table: pa.Table) -> pa.Table:
        """``table``, the file's next rows, with its answers and errors added."""
        scored = await _run(score_arrow, table, table.num_rows, 0)
        valid = scored.verdicts.valid
        # Kept for every table until the file is scored: as little as the file's rows allow.
        valid_rows = None if valid.all() else valid.nonzero()[0].astype(np.int32)  # a table's rows fit in 32 bits
        self._parts.append(
            _ScoredPart(
                self.rows,
                table.num_rows,
                valid_rows,
                # The smallest integer type that holds every car's position (16 bits for this model's).
                scored.verdicts.positions[valid].astype(np.min_scalar_type(trained_table().domain.size)),
                scored.class_counts(),
                scored.verdicts.problems,
            )
        )
        self.rows += table.num_rows
        self.rejected += self._parts[-1].rejected
        self._classes.update(self._parts[-1].classes)
        return scored.table

    def class_counts(self) -> dict[str, int]:
        """Valid rows per predicted class, every class listed in the model's order."""
        return {label: self._classes[label] for label in trained_table().classes}

    def record(self) -> None:
        """Tell every recorder what was answered and refused, table by table, with the file's row numbers."""
        domain = trained_table().domain
        for part in self._parts:
            first = part.first_row
            if part.valid_rows is None:
                row_numbers: Sequence[int] = range(first, first + part.rows)
            else:
                row_numbers = (part.valid_rows + first).tolist()
            answer = Answered(model_version, InputRows(domain, part.positions.tolist()), part.classes, row_numbers)
            self._plane.tell_answered(self._call, answer)
            if part.rejected:
                self._plane.tell_refused(self._call, Refused(part.rows, part.rejected, part.rejected, part.problems))
        self._parts = []
