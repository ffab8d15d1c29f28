"""Secrets at rest (InfluxDB tokens, webhook secrets): Fernet from ``cryptography``.

The key comes from ``settings.encryption_key`` (a Fernet key; several comma-separated keys rotate:
the first encrypts, all decrypt). In development with no key set, one is generated once and kept at
``{data_dir}/secret.key`` (mode 0600) so that the embedded setup reads its own secrets after a restart.
Production without a key never starts (the settings refuse it).
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.settings import Environment, get_settings

KEY_FILE_NAME = "secret.key"
MASK = "****"
MASK_VISIBLE_CHARS = 4


class CryptoError(Exception):
    """Raised when secrets cannot be encrypted or decrypted (root of this module's errors)."""


class KeyUnavailableError(CryptoError):
    """Raised when no encryption key is configured and none may be generated (production)."""


class SecretDecryptError(CryptoError):
    """Raised when a stored secret does not decrypt with the configured key(s) (wrong or rotated key)."""


def _key_file(data_dir: str) -> bytes:
    path = Path(data_dir) / KEY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise KeyUnavailableError(
            "SCRIPTCRON_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64 bytes)"
        ) from None


def get_fernet() -> MultiFernet:
    """The cipher for the current settings (generating the development key file when needed)."""
    settings = get_settings()
    if settings.encryption_key is not None:
        raw = settings.encryption_key.get_secret_value()
        keys = tuple(part.strip() for part in raw.split(",") if part.strip())
    elif settings.environment is Environment.DEVELOPMENT:
        keys = (_key_file(settings.data_dir).decode(),)
    else:
        raise KeyUnavailableError("SCRIPTCRON_ENCRYPTION_KEY is required in production")
    return _fernet(keys)


def encrypt_secret(plain: str) -> str:
    """``plain`` encrypted (a Fernet token, ASCII)."""
    return get_fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    """The plain text of an :func:`encrypt_secret` token; SecretDecryptError with the wrong key."""
    try:
        return get_fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise SecretDecryptError("a stored secret does not decrypt with the configured key") from None


def mask_secret(plain: str) -> str:
    """``****abcd``: the last four characters of a long secret, nothing of a short one."""
    if len(plain) <= 2 * MASK_VISIBLE_CHARS:
        return MASK
    return MASK + plain[-MASK_VISIBLE_CHARS:]
