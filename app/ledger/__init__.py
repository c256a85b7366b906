"""The prediction ledger: every answered prediction recorded, labels joined, live performance.

Independent of the web framework: the service's data plane calls ``Ledger.record`` once per
answered batch. ``python -m app.ledger`` migrates, loads labels and exports.
"""

from app.ledger.batch import RecordedBatch
from app.ledger.labels import LabelError
from app.ledger.ledger import Ledger
from app.ledger.settings import LedgerSettings
from app.ledger.spool import LedgerFullError

__all__ = ["LabelError", "Ledger", "LedgerFullError", "LedgerSettings", "RecordedBatch"]
