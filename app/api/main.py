"""The FastAPI application: ``create_app()`` (uvicorn ``--factory app.api.main:create_app``).

Routers are registered one line each below; every one under ``/api/v1`` needs an API token.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from app import __version__
from app.api import errors
from app.api.deps import require_token
from app.api.routes import connections, deliveries, health, metrics, runs, schedules
from app.logging import configure_logging
from app.settings import get_settings

API_V1 = "/api/v1"
AUTH = [Depends(require_token)]


def create_app() -> FastAPI:
    """A new application; settings are read now, so a bad setting fails at start-up."""
    get_settings()
    configure_logging(get_settings())  # one format (JSON on request), ids, no secrets; uvicorn's too
    app = FastAPI(
        title="scriptcron",
        version=__version__,
        summary="Run InfluxDB invocable scripts on schedules and deliver their CSV results.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(connections.router, prefix=API_V1, dependencies=AUTH)
    app.include_router(schedules.router, prefix=API_V1, dependencies=AUTH)
    app.include_router(runs.router, prefix=API_V1, dependencies=AUTH)
    app.include_router(deliveries.router, prefix=API_V1, dependencies=AUTH)
    return app
