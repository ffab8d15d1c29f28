"""Standard Webhooks signatures (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

A JSON event is signed with the ``standardwebhooks`` package (``Webhook.sign``). A streamed CSV body
is signed with the same algorithm applied incrementally, HMAC-SHA256 over
``{id}.{timestamp}.{body}`` with the secret's decoded key, so the body never has to be in memory; the
tests check both against the package's ``Webhook.verify``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_``-prefixed (or bare) base64 secret, decoded as the package does."""
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    key = base64.b64decode(raw + "==")
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def headers(message_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def sign_bytes(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of a (small, UTF-8) body, by the standardwebhooks package."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return str(Webhook(secret).sign(msg_id=message_id, timestamp=when, data=body.decode("utf-8")))


def sign_chunks(secret: str, message_id: str, timestamp: int, chunks: Iterable[bytes]) -> tuple[str, int]:
    """(``webhook-signature`` value, body length) of a body given as chunks, in constant memory."""
    mac = hmac.new(secret_key(secret), f"{message_id}.{timestamp}.".encode(), hashlib.sha256)
    length = 0
    for chunk in chunks:
        mac.update(chunk)
        length += len(chunk)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac.digest()).decode()}", length
