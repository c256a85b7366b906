"""The prediction ledger: every answered prediction recorded, labels joined, live performance.

Independent of the web framework: the service's data plane calls ``Ledger.record`` once per
answered batch. ``python -m app.ledger`` migrates, loads labels and exports.

Its names are imported when first used: the service's settings (``app.config``) take
``app.ledger.settings``, and the server's protocol reads the settings without loading the
ledger, the model or their libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.ledger.batch import RecordedBatch
    from app.ledger.labels import LabelError
    from app.ledger.ledger import Ledger, LedgerUnavailableError
    from app.ledger.settings import LedgerSettings
    from app.ledger.spool import LedgerFullError

__all__ = ["LabelError", "Ledger", "LedgerFullError", "LedgerSettings", "LedgerUnavailableError", "RecordedBatch"]

_MODULE_OF = {
    "LabelError": "app.ledger.labels",
    "Ledger": "app.ledger.ledger",
    "LedgerFullError": "app.ledger.spool",
    "LedgerSettings": "app.ledger.settings",
    "LedgerUnavailableError": "app.ledger.ledger",
    "RecordedBatch": "app.ledger.batch",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
