"""(4) The reference: this project's pipeline served the article's way.

A DataFrame per request and ``pipeline.predict`` inside ``async def``, which blocks the
event loop for the whole computation.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import FastAPI

from app.schemas.predict import PredictRequest
from car_evaluation_model import __version__
from car_evaluation_model.processing.data_manager import load_pipeline

app = FastAPI()
pipeline = load_pipeline()


@app.get("/api/v1/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/predict")
async def predict(payload: PredictRequest) -> dict[str, Any]:
    frame = pd.DataFrame(payload.model_dump()["inputs"])
    probabilities = pipeline.predict_proba(frame)
    return {
        "predictions": [str(label) for label in pipeline.classes_[probabilities.argmax(axis=1)]],
        "probabilities": [dict(zip(pipeline.classes_, row, strict=True)) for row in probabilities.tolist()],
        "version": __version__,
        "errors": None,
    }
