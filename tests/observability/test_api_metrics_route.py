"""The API's GET /metrics route."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import metrics
from app.api.routes.metrics import router


def test_metrics_route_serves_the_prometheus_text_format() -> None:
    app = FastAPI()
    app.include_router(router)
    metrics.RUNS_TOTAL.labels(status="succeeded").inc()
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert 'scriptcron_runs_total{status="succeeded"}' in response.text


def test_metrics_route_is_not_in_the_openapi_schema() -> None:
    app = FastAPI()
    app.include_router(router)
    assert "/metrics" not in app.openapi()["paths"]
