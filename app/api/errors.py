"""Every error response is ``{"code": "...", "message": "..."}``; a validation error names the field."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.schemas.common import ErrorOut
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "too large",
    415: "unsupported media type",
    422: "invalid",
    429: "too many requests",
    500: "internal error",
    503: "unavailable",
}
_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_TAGS = {"s3", "webhook"}
MAX_REPORTED_ERRORS = 3

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong API token"},
    422: {"model": ErrorOut, "description": "Invalid input; the message names the field"},
}


def error_response(status: int, message: str, code: str | None = None, headers: Any = None) -> JSONResponse:
    body = ErrorOut(code=code or CODES.get(status, "error"), message=message)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def field_path(loc: Sequence[Any]) -> str:
    """``("body", "destinations", 0, "webhook", "url")`` -> ``destinations[0].url``."""
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:] or parts[:1]
    text = ""
    previous: Any = None
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(previous, int) and part in _TAGS:
            pass
        else:
            text += f".{part}" if text else str(part)
        previous = part
    return text or "body"


def describe_validation(errors: Sequence[Any]) -> str:
    messages = []
    for error in errors[:MAX_REPORTED_ERRORS]:
        path = field_path(error.get("loc", ()))
        msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            msg = "not valid JSON"
        messages.append(msg if msg.startswith(path) else f"{path}: {msg}")
    return "; ".join(messages)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, describe_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A race lost to a concurrent request (a name taken, a row deleted meanwhile): nothing was saved.
        log.info("integrity conflict: %s", type(exc.orig).__name__)
        return error_response(409, "the change conflicts with a concurrent one; nothing was saved")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error")
