"""(1) The framework ceiling: FastAPI with the service's request schema, a constant answer."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.schemas.predict import PredictRequest

app = FastAPI()
ANSWER = {"predictions": ["unacc"], "probabilities": [{"unacc": 1.0}], "version": "0", "errors": None}


@app.get("/api/v1/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/predict")
async def predict(payload: PredictRequest) -> dict[str, Any]:
    return ANSWER
