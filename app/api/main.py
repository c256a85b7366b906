from app.api.routes import explain, health, predict
from app.api.routing import Router

# Included one by one under the API prefix (each nesting level of routers costs on every request).
api_routers: list[Router] = [predict.router, explain.router, health.router]
