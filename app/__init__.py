"""The car-evaluation HTTP service: FastAPI around the car-evaluation-model package."""

__version__ = "0.1.0"
