"""What the ledger records of one answered batch, and its bytes in the spool.

A spool frame is one batch: a fixed header (``HEADER``), the four strings, one ``uint16``
code per row (``position * len(CLASSES) + class``), the rows' indices when they are not
``0..n-1`` (only the first when they follow each other, as in a file's later tables), and
the probabilities of the cars this spool has not yet seen for this model
version: a model version answers a car always the same (the model package compiles the
pipeline into a table of its answers over every car), so each car's probabilities are stored
once per version, and each prediction is two bytes.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

import numpy

from app.ledger.cars import CLASSES
from car_evaluation_model.predict import trained_table

# frame length, time, rows, flags, then the byte lengths of request id, v2 id, route, model
# version, and the number of answers (cars with their probabilities) that follow the rows.
HEADER = struct.Struct("<IdIBHHHHH")
HAS_V2_ID = 1
HAS_ROW_INDICES = 2
HAS_FIRST_ROW = 4  # the rows are first..first+n-1: only the first is stored
FIRST_ROW = struct.Struct("<I")
ANSWER = struct.Struct(f"<H{len(CLASSES)}d")
CLASS_COUNT = len(CLASSES)
# Cars' positions or codes (uint16): a numpy array, or for a batch of a few rows an ``array``.
Cars: TypeAlias = "numpy.ndarray[Any, numpy.dtype[numpy.uint16]] | array[int]"
NO_PREDICTION = -1  # no code is negative: where SQLite's ledger marks a row without a prediction


@dataclass(frozen=True, slots=True, eq=False)  # numpy arrays: compared by identity
class ModelAnswers:
    """A model version's answers to every car, by the car's position: what a batch's rows are read from.

    A model version answers a car always the same, so a batch names its cars' positions and
    these give each row's code and each car's probabilities, with no work per row in Python.
    """

    codes: numpy.ndarray[Any, numpy.dtype[numpy.uint16]]  # position -> position * CLASS_COUNT + class
    probabilities: numpy.ndarray[Any, numpy.dtype[numpy.float64]]  # (position, class in ``CLASSES`` order)

    @classmethod
    def of(cls, classes: Sequence[str], labels: Sequence[str], probabilities: numpy.ndarray[Any, Any]) -> ModelAnswers:
        """From a model's label and probabilities (one per class of ``classes``) for each car, in position order."""
        if tuple(classes) != CLASSES:
            raise ValueError(f"a model's classes must be the ledger's, {CLASSES}, not {tuple(classes)}")
        if len(labels) != len(probabilities):
            raise ValueError(f"{len(labels)} labels and {len(probabilities)} rows of probabilities")
        codes = numpy.array(
            [position * CLASS_COUNT + CLASSES.index(label) for position, label in enumerate(labels)], dtype=numpy.uint16
        )
        # Every batch of the model shares them: read-only, the probabilities a copy of the caller's.
        probabilities = numpy.array(probabilities, dtype=numpy.float64)
        codes.setflags(write=False)
        probabilities.setflags(write=False)
        return cls(codes, probabilities)


@cache
def trained_answers() -> ModelAnswers:
    """The shipped model's answers: the model package's table of them over every car."""
    table = trained_table()
    return ModelAnswers.of(table.classes, table.labels, table.probabilities)


@dataclass(slots=True)  # not frozen, as ``Frame``: one is made for every answered request
class RecordedBatch:
    """One answered batch: the request, and per answered row its index and its car's position.

    ``rows`` and ``positions`` are parallel: each answered row's index in the request and its
    car's position, as Python ints (``InputRows.positions``); ``answers`` are what the model
    version answers each car, the same for every batch of that version. ``time`` is seconds
    since the epoch (``time.time()``).
    """

    request_id: str
    v2_id: str | None
    route: str
    model_version: str
    time: float
    rows: Sequence[int]
    positions: Sequence[int]
    answers: ModelAnswers


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times more, per frame
class Frame:
    """A batch as read back from the spool: positions and classes decoded from the codes."""

    time: float
    request_id: str
    v2_id: str | None
    route: str
    model_version: str
    codes: array[int]  # position * CLASS_COUNT + class
    rows: array[int] | range | None  # None: 0..len(codes)-1
    answers: dict[int, tuple[float, ...]]  # position -> probabilities, for cars first seen here


def encode(
    batch: RecordedBatch,
    codes: Cars,
    rows: Sequence[int],
    answers: Sequence[tuple[int, Sequence[float]]],
) -> bytes:
    """The frame of ``batch``; ``answers`` are the (position, probabilities) to store with it."""
    request_id = batch.request_id.encode()
    v2_id = b"" if batch.v2_id is None else batch.v2_id.encode()
    route = batch.route.encode()
    version = batch.model_version.encode()
    first, indices = _first_row_and_indices(rows)
    flags = HAS_V2_ID if batch.v2_id is not None else 0
    if indices is not None:
        flags |= HAS_ROW_INDICES
        row_bytes = indices.tobytes()
    elif first:
        flags |= HAS_FIRST_ROW
        row_bytes = FIRST_ROW.pack(first)
    else:
        row_bytes = b""
    answer_bytes = b"".join([ANSWER.pack(position, *probabilities) for position, probabilities in answers])
    parts = (request_id, v2_id, route, version, codes.tobytes(), row_bytes, answer_bytes)
    length = HEADER.size + sum(map(len, parts))
    header = HEADER.pack(
        length, batch.time, len(codes), flags, len(request_id), len(v2_id), len(route), len(version), len(answers)
    )
    return b"".join((header, *parts))


@dataclass(frozen=True, slots=True)
class Extent:
    """What the complete frames at the start of a buffer span, read from their headers alone."""

    end: int  # the offset just after the last complete frame
    rows: int
    first_time: float
    last_time: float


def extent(buffer: bytes | memoryview) -> Extent:
    """The complete frames at the start of ``buffer``: where they end, their rows, their times' range."""
    offset = rows = 0
    first_time, last_time = float("inf"), float("-inf")
    while len(buffer) - offset >= HEADER.size:
        length, time, count, *_ = HEADER.unpack_from(buffer, offset)
        if len(buffer) - offset < length:
            break
        offset += length
        rows += count
        first_time, last_time = min(first_time, time), max(last_time, time)
    return Extent(offset, rows, first_time, last_time)


def _first_row_and_indices(rows: Sequence[int]) -> tuple[int, array[int] | None]:
    """The first row, and the rows' indices unless they follow each other (a request's rows, a
    file's later tables): those cost four bytes, not four per row."""
    if isinstance(rows, range) and rows.step == 1:  # the usual case, without an array
        return rows.start, None
    indices = array("I", rows)
    first = indices[0] if indices else 0
    return first, None if indices == array("I", range(first, first + len(indices))) else indices


def decode(buffer: bytes | memoryview) -> Iterator[tuple[int, Frame]]:
    """The complete frames at the start of ``buffer``, each with the offset just after it.

    A frame cut short (being written, or torn by a killed process) ends the iteration.
    """
    view = memoryview(buffer)
    offset = 0
    while len(view) - offset >= HEADER.size:
        length, time, count, flags, request_size, v2_size, route_size, version_size, answer_count = HEADER.unpack_from(
            view, offset
        )
        if len(view) - offset < length:
            return
        at = offset + HEADER.size
        request_id = str(view[at : (at := at + request_size)], "utf-8")
        v2_bytes = view[at : (at := at + v2_size)]
        v2_id = str(v2_bytes, "utf-8") if flags & HAS_V2_ID else None
        route = str(view[at : (at := at + route_size)], "utf-8")
        version = str(view[at : (at := at + version_size)], "utf-8")
        codes = _array("H", view[at : at + 2 * count])
        at += 2 * count
        rows: array[int] | range | None = None
        if flags & HAS_ROW_INDICES:
            rows = _array("I", view[at : at + 4 * count])
            at += 4 * count
        elif flags & HAS_FIRST_ROW:
            [first] = FIRST_ROW.unpack_from(view, at)
            rows = range(first, first + count)
            at += FIRST_ROW.size
        answers = {}
        for _ in range(answer_count):
            position, *probabilities = ANSWER.unpack_from(view, at)
            answers[position] = tuple(probabilities)
            at += ANSWER.size
        offset += length
        frame = Frame(time, request_id, v2_id, route, version, codes, rows, answers)
        yield offset, frame


def _array(typecode: str, data: memoryview) -> array[int]:
    numbers = array(typecode)
    numbers.frombytes(data)
    return numbers
