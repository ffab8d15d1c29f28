"""The scriptcron HTTP API (FastAPI): ``app.api.main:create_app()``."""
