"""``scriptcron api``: serve the HTTP API with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the scriptcron API (OpenAPI at /docs and /openapi.json)."""
    import uvicorn

    from app.settings import get_settings

    get_settings()  # a bad setting fails here, before binding
    uvicorn.run(
        "app.api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
    )


def register(app: typer.Typer) -> None:
    app.command("api")(serve)
