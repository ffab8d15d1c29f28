"""Destinations of a schedule's results: S3 objects and webhooks (delivered by the worker).

A webhook's ``secret`` (``whsec_`` + base64, as Standard Webhooks uses) is write-only: it is stored
encrypted as ``secret_encrypted`` and responses only say whether one is set.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from app.api.schemas.common import InputModel, check_http_url

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES, SECRET_MAX_BYTES = 24, 64
MAX_DESTINATIONS = 20


class S3Destination(InputModel):
    type: Literal["s3"]
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = Field(default="", max_length=1024)
    key_template: str | None = Field(default=None, max_length=1024)
    region: str | None = None
    endpoint_url: str | None = None
    gzip: bool = False

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.match(value) or ".." in value:
            raise ValueError("not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value.startswith("/") or any(p in {".", ".."} for p in value.split("/")):
            raise ValueError("must not start with '/' or hold '.' or '..' segments")
        return value

    @field_validator("key_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from worker.results.keys import KeyTemplateError, validate_key_template

        try:
            validate_key_template(value)
        except KeyTemplateError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError("not a valid region name")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)


def check_webhook_secret(value: str) -> None:
    """ValueError unless ``value`` is ``whsec_`` + base64 of 24..64 bytes."""
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX!r}")
    try:
        raw = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be 'whsec_' followed by base64") from None
    if not SECRET_MIN_BYTES <= len(raw) <= SECRET_MAX_BYTES:
        raise ValueError(f"must encode {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes")


class WebhookDestination(InputModel):
    type: Literal["webhook"]
    url: str = Field(min_length=1, max_length=2000)
    secret: SecretStr | None = Field(
        default=None,
        description="whsec_<base64> signing secret (write-only). Omit on an update to keep the stored one.",
    )
    mode: Literal["event", "csv"] = "event"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_webhook_secret(value.get_secret_value())
        return value


DestinationIn = Annotated[S3Destination | WebhookDestination, Field(discriminator="type")]


class S3DestinationPublic(BaseModel):
    type: Literal["s3"]
    bucket: str
    prefix: str = ""
    key_template: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    gzip: bool = False


class WebhookDestinationPublic(BaseModel):
    type: Literal["webhook"]
    url: str
    mode: Literal["event", "csv"] = "event"
    secret_set: bool = Field(description="A signing secret is stored (it is never returned)")


DestinationPublic = Annotated[S3DestinationPublic | WebhookDestinationPublic, Field(discriminator="type")]
