from app.api.routes import explain, health, metrics, predict, v2
from app.api.routing import Router

# Included one by one under the API prefix (each nesting level of routers costs on every request).
api_routers: list[Router] = [predict.router, explain.router, health.router]

# The Open Inference Protocol's routes, at the root (/v2), as its clients expect them.
v2_routers: list[Router] = [v2.infer_router, v2.router]

# At the root, outside the API: /metrics, where Prometheus looks.
root_routers: list[Router] = [metrics.router]
