"""The service with FastAPI's own request handling on every route, to measure what the direct routes earn.

An app with any dependency override hands every request of a direct route to FastAPI's own
handler (app/api/routing.py); this override changes nothing else.
"""

from app.api.deps import get_settings
from app.main import create_app

app = create_app()
app.dependency_overrides[get_settings] = get_settings
