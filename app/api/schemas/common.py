"""Shapes shared by every resource: errors, pages, and field checks."""

from __future__ import annotations

from typing import Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

URL_MAX_CHARS = 2000


class ErrorOut(BaseModel):
    """Every 4xx/5xx body: a short machine code and a message naming the field and the fault."""

    code: str = Field(examples=["invalid"])
    message: str = Field(examples=["cron: not a valid cron expression: '61 * * * *'"])


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` in a stable order, and the ``total`` matching the filters."""

    items: list[T]
    total: int
    limit: int
    offset: int


class InputModel(BaseModel):
    """A request body: unknown fields are refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


def check_http_url(value: str) -> str:
    """A well-formed absolute http(s) URL with a host and no credentials; ValueError otherwise."""
    value = value.strip()
    if len(value) > URL_MAX_CHARS:
        raise ValueError(f"must be at most {URL_MAX_CHARS} characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a well-formed URL ({exc})") from None
    if parts.scheme not in {"http", "https"}:
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain whitespace")
    if port == 0:
        raise ValueError("port must be between 1 and 65535")
    return value


def check_name(value: str) -> str:
    """A display name: trimmed, not empty, no control characters."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value
