"""Destinations as stored (JSON in ``Schedule.destinations``) and as shown (secrets never shown)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.api.schemas.destinations import (
    S3Destination,
    S3DestinationPublic,
    WebhookDestination,
    WebhookDestinationPublic,
)
from app.crypto import encrypt_secret
from app.netpolicy import UrlNotAllowed, check_webhook_url
from app.services.errors import InvalidInput
from app.settings import get_settings


def to_stored(
    destinations: Sequence[S3Destination | WebhookDestination], previous: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Validate webhook URLs against the network policy and encrypt secrets.

    A webhook given without ``secret`` keeps the stored secret of the destination at the same
    position with the same URL (so an update need not repeat it); a new webhook needs one.
    """
    settings = get_settings()
    stored: list[dict[str, Any]] = []
    for i, dest in enumerate(destinations):
        if isinstance(dest, S3Destination):
            stored.append(dest.model_dump())
            continue
        field = f"destinations[{i}]"
        try:
            check_webhook_url(
                dest.url,
                allow_loopback=settings.webhook_allow_loopback,
                allow_private=settings.webhook_allow_private,
            )
        except UrlNotAllowed as exc:
            raise InvalidInput(f"{field}.url", str(exc)) from None
        if dest.secret is not None:
            secret_encrypted = encrypt_secret(dest.secret.get_secret_value())
        else:
            old = previous[i] if i < len(previous) else {}
            if old.get("type") != "webhook" or old.get("url") != dest.url or not old.get("secret_encrypted"):
                raise InvalidInput(f"{field}.secret", "required for a new webhook (whsec_<base64>)")
            secret_encrypted = old["secret_encrypted"]
        stored.append(
            {"type": "webhook", "url": dest.url, "mode": dest.mode, "secret_encrypted": secret_encrypted}
        )
    return stored


def to_public(stored: list[dict[str, Any]]) -> list[S3DestinationPublic | WebhookDestinationPublic]:
    shown: list[S3DestinationPublic | WebhookDestinationPublic] = []
    for item in stored:
        if item.get("type") == "webhook":
            shown.append(
                WebhookDestinationPublic(
                    type="webhook",
                    url=item.get("url", ""),
                    mode=item.get("mode", "event"),
                    secret_set=bool(item.get("secret_encrypted")),
                )
            )
        else:
            fields = {k: v for k, v in item.items() if k in S3DestinationPublic.model_fields}
            shown.append(S3DestinationPublic(**fields))
    return shown
