from app.api.routes import explain, health, metrics, predict, v2
from app.api.routing import Router

# The routing table's routers, in order, each with whether it goes under the API prefix
# (/api/v1); the others are at the root: the Open Inference Protocol's /v2, as its clients
# expect it, and /metrics, where Prometheus looks. The first match wins, and every route
# tried before it costs a match on every request: the hot routes come first.
routers: list[tuple[Router, bool]] = [
    (predict.router, True),
    (v2.infer_router, False),
    (explain.router, True),
    (health.router, True),
    (v2.router, False),
    (metrics.router, False),
]
