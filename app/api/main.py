"""The routers, as ``app.main`` includes them, each with whether it goes under the API prefix.

The first match wins, and FastAPI tries every route before it on every request: the hot
routers come first. Each is included on its own (no router of routers): an included router is
a node FastAPI matches through, one more per level of nesting.
"""

from fastapi import APIRouter

from app.api.routes import explain, health, ledger, metrics, predict, predict_file, v2

routers: list[tuple[APIRouter, bool]] = [
    (predict.router, True),
    (v2.router, False),  # /v2, at the root as its clients expect it
    (explain.router, True),
    (predict_file.router, True),
    (health.router, True),
    (ledger.router, True),
    (metrics.router, False),  # /metrics, where Prometheus looks
]
