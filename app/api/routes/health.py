"""``/healthz`` (alive, no auth) and ``/readyz`` (database and broker reachable)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app import constants
from app.api.deps import require_token
from app.api.errors import ERROR_RESPONSES
from app.db import get_engine
from app.settings import get_settings

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up (no authentication, no dependencies checked)."""
    return HealthOut(status="ok")


def check_database() -> str:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def check_broker() -> str:
    url = get_settings().broker_url
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return "not checked (not a Redis URL)"
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_timeout=constants.READYZ_TIMEOUT_S, socket_connect_timeout=constants.READYZ_TIMEOUT_S
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "A dependency is unreachable"}, **ERROR_RESPONSES},
)
def readyz(_: Annotated[None, Depends(require_token)]) -> JSONResponse:
    """Ready when the database answers and the broker answers a PING."""
    checks = {"database": check_database(), "broker": check_broker()}
    ready = all(not value.startswith("error") for value in checks.values())
    body = ReadyOut(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
