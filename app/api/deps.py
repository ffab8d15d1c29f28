"""Dependencies: the database session, the API-token check, list paging."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Security
from fastapi.security import APIKeyHeader
from sqlmodel import Session

from app import constants
from app.db import get_engine
from app.settings import get_settings

_AUTH_HEADER = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    description="`Bearer <token>` or `Token <token>`; tokens come from SCRIPTCRON_API_TOKENS",
)
_SCHEMES = {"bearer", "token"}


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def require_token(authorization: Annotated[str | None, Security(_AUTH_HEADER)] = None) -> None:
    """401 unless the request carries one of the configured API tokens (constant-time compare)."""
    if not authorization:
        raise _unauthorized("missing Authorization header (Bearer <token>)")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in _SCHEMES or not token:
        raise _unauthorized("Authorization must be 'Bearer <token>' or 'Token <token>'")
    given = token.encode()
    matched = False
    for known in get_settings().api_tokens:
        matched |= hmac.compare_digest(given, known.get_secret_value().encode())
    if not matched:
        raise _unauthorized("invalid API token")


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=constants.API_LIST_LIMIT_MAX)] = constants.API_LIST_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A resource id")]
