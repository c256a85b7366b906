"""Helpers shared by the tests, the benchmark and the release tooling (never by the service)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
