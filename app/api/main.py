from fastapi import APIRouter

from app.api.routes import health, predict

api_routers: list[APIRouter] = [predict.router, health.router]
