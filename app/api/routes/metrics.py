"""``GET /metrics``: the Prometheus exposition, without authentication.

Prometheus scrapes without credentials by default and the text holds only counts and timings with
bounded labels (statuses, reasons, destination kinds): no ids, names or secrets. Keep it off the public
ingress instead (docs/operations.md). In multi-process mode (``PROMETHEUS_MULTIPROC_DIR``, as in
``scriptcron up``) it shows every process that writes to that directory: API, beat and workers.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.metrics import render_latest

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def get_metrics() -> Response:
    """The Prometheus text format."""
    body, content_type = render_latest()
    return Response(content=body, headers={"Content-Type": content_type})
