"""The package version, read from ``VERSION``: a leaf module that every other module may import."""

from pathlib import Path

__version__: str = (Path(__file__).resolve().parent / "VERSION").read_text(encoding="utf-8").strip()
