"""Helpers shared by the tests, the benchmark and the release tooling (never by the service)."""
