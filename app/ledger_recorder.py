"""The prediction ledger attached to the data plane: every answered row recorded, refused rows counted.

A recorder (``app.data_plane.Recorder``): it runs on the event loop before the answer is sent,
and ``Ledger.record`` only appends to this worker's spool (no database round trip). An answer's
rows are its positions among the cars; their classes and probabilities are the shipped model's
answers at those positions. A spool at its bound with ``LEDGER_WHEN_FULL=refuse`` makes the answer a 503.
"""

from __future__ import annotations

import time

from app.data_plane import Answered, Call, Refused
from app.errors import ApiError
from app.ledger import Ledger, LedgerFullError, RecordedBatch
from app.ledger.batch import trained_answers


class LedgerRecorder:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def answered(self, call: Call, answer: Answered) -> None:
        positions = answer.rows.positions
        batch = RecordedBatch(
            request_id=call.request_id,
            v2_id=call.inference_id,
            route=call.route,
            model_version=answer.version,
            time=time.time(),
            rows=answer.row_numbers if answer.row_numbers is not None else range(len(positions)),
            positions=positions,
            answers=trained_answers(),
        )
        try:
            self.ledger.record(batch)
        except LedgerFullError as error:
            raise ApiError.single(
                503,
                [],
                f"the prediction ledger is full and set to refuse (LEDGER_WHEN_FULL=refuse): {error}",
                "ledger_full",
            ) from error

    def refused(self, call: Call, refusal: Refused) -> None:
        self.ledger.count_refused(refusal.refused_rows)
