"""FastAPI's own OpenTelemetry instrumentation: off unless OTEL_ENABLED, even with an SDK set up."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A process of its own: OpenTelemetry's tracer provider can be set once per process.
SCRIPT = textwrap.dedent(
    """
    import sys
    from fastapi.testclient import TestClient
    from opentelemetry import trace
    from opentelemetry.trace import NoOpTracer, TracerProvider

    started = []

    class RecordingTracer(NoOpTracer):
        def start_span(self, name, *args, **kwargs):
            started.append(name)
            return super().start_span(name, *args, **kwargs)

    class RecordingProvider(TracerProvider):
        def get_tracer(self, *args, **kwargs):
            return RecordingTracer()

    trace.set_tracer_provider(RecordingProvider())
    from app.config import Settings
    from app.main import create_app

    with TestClient(create_app(Settings(OTEL_ENABLED=sys.argv[1] == "true"))) as client:
        assert client.get("/api/v1/health").status_code == 200
    print(len(started))
    """
)


@pytest.mark.parametrize(("enabled", "traced"), [("true", True), ("false", False)])
def test_fastapi_traces_requests_only_when_enabled(enabled: str, traced: bool) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, enabled], capture_output=True, text=True, timeout=60, check=True
    )
    spans = int(run.stdout.split()[-1])
    assert (spans > 0) == traced, run.stdout + run.stderr
