"""Connections: create, change, delete, and test against the InfluxDB server."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from app.api.schemas.connections import (
    CheckOut,
    ConnectionCreate,
    ConnectionPublic,
    ConnectionTestOut,
    ConnectionUpdate,
)
from app.crypto import SecretDecryptError, decrypt_secret, encrypt_secret, mask_secret
from app.db import utcnow
from app.models import Connection, Schedule
from app.services.common import ensure_unique_name, get_or_404
from app.services.errors import Conflict, InvalidInput

RESOURCE = "connection"
TEST_TIMEOUT_S = 10.0


def to_public(row: Connection) -> ConnectionPublic:
    try:
        masked = mask_secret(decrypt_secret(row.token_encrypted))
    except SecretDecryptError:
        masked = "****"
    data = row.model_dump(exclude={"token_encrypted"})
    return ConnectionPublic(**data, token_masked=masked)


def create(session: Session, body: ConnectionCreate) -> Connection:
    ensure_unique_name(session, Connection, body.name, None, RESOURCE)
    data = body.model_dump(exclude={"token"})
    row = Connection(**data, token_encrypted=encrypt_secret(body.token.get_secret_value()))
    session.add(row)
    session.flush()
    return row


def update(session: Session, ident: int, body: ConnectionUpdate) -> Connection:
    row = get_or_404(session, Connection, ident, RESOURCE)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key != "rate_per_s":
            raise InvalidInput(key, "must not be null")
    if "name" in changes:
        ensure_unique_name(session, Connection, changes["name"], row.id, RESOURCE)
    if "token" in changes:
        assert body.token is not None
        row.token_encrypted = encrypt_secret(body.token.get_secret_value())
        changes.pop("token")
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def delete(session: Session, ident: int) -> None:
    row = get_or_404(session, Connection, ident, RESOURCE)
    used = session.exec(select(Schedule.name).where(Schedule.connection_id == ident).limit(5)).all()
    if used:
        raise Conflict(f"connection {ident} is used by schedules: {', '.join(used)}; delete them first")
    session.delete(row)
    session.flush()


def _describe(exc: Exception) -> tuple[str, int | None]:
    status = getattr(exc, "status", None)
    message = getattr(exc, "message", None) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {message}", status if isinstance(status, int) else None


def test_connection(row: Connection) -> ConnectionTestOut:
    """Ping the server, then list its scripts; report which step failed and why."""
    from app.influx import ScriptsClient

    try:
        token = decrypt_secret(row.token_encrypted)
    except SecretDecryptError as exc:
        failed = CheckOut(ok=False, error=str(exc))
        return ConnectionTestOut(ok=False, ping=failed, list_scripts=CheckOut(ok=False, error="not tried"))
    try:
        client = ScriptsClient(row.url, token, timeout=min(row.timeout_s, TEST_TIMEOUT_S))
    except Exception as exc:  # a URL the client refuses
        error, status = _describe(exc)
        failed = CheckOut(ok=False, error=error, status=status)
        return ConnectionTestOut(ok=False, ping=failed, list_scripts=CheckOut(ok=False, error="not tried"))
    with client:
        try:
            client.ping()
            ping = CheckOut(ok=True)
        except Exception as exc:
            error, status = _describe(exc)
            ping = CheckOut(ok=False, error=error, status=status)
        try:
            scripts = client.list(limit=100)
            listed = CheckOut(ok=True)
            seen: int | None = len(scripts)
        except Exception as exc:
            error, status = _describe(exc)
            listed, seen = CheckOut(ok=False, error=error, status=status), None
    return ConnectionTestOut(ok=ping.ok and listed.ok, ping=ping, list_scripts=listed, scripts_seen=seen)
