"""The API's routers, as ``app.main`` includes them."""

from app.api.routes import explain, health, metrics, predict, v2
from app.api.routing import RouterWithHead

# Under the API prefix (/api/v1): the service's own API.
api_router = RouterWithHead()
api_router.include_router(predict.router)
api_router.include_router(explain.router)
api_router.include_router(health.router)

# At the root: the Open Inference Protocol's /v2, as its clients expect it, and /metrics,
# where Prometheus looks.
root_routers = [v2.infer_router, v2.router, metrics.router]
