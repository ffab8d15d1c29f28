"""Secrets at rest: Fernet with the configured key, or a development key kept in the data folder."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.crypto import SecretDecryptError, decrypt_secret, encrypt_secret, mask_secret
from app.settings import SettingsError, override_settings


def test_round_trip_with_a_configured_key(tmp_path: Path) -> None:
    with override_settings(encryption_key=Fernet.generate_key().decode(), data_dir=str(tmp_path)):
        token = encrypt_secret("s3cr3t")
        assert "s3cr3t" not in token
        assert decrypt_secret(token) == "s3cr3t"
    assert not (tmp_path / "secret.key").exists()


def test_development_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    with override_settings(encryption_key=None, data_dir=str(tmp_path), environment="development"):
        token = encrypt_secret("s3cr3t")
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes()
    with override_settings(encryption_key=None, data_dir=str(tmp_path), environment="development"):
        assert decrypt_secret(token) == "s3cr3t"  # after a "restart"
    assert key_file.read_bytes() == key


def test_a_wrong_key_fails_without_revealing_the_secret(tmp_path: Path) -> None:
    with override_settings(encryption_key=Fernet.generate_key().decode(), data_dir=str(tmp_path)):
        token = encrypt_secret("s3cr3t")
    other_key = Fernet.generate_key().decode()
    with (
        override_settings(encryption_key=other_key, data_dir=str(tmp_path)),
        pytest.raises(SecretDecryptError) as info,
    ):
        decrypt_secret(token)
    assert "s3cr3t" not in str(info.value)


def test_rotated_keys_decrypt_old_secrets_and_encrypt_with_the_first(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(encryption_key=old, data_dir=str(tmp_path)):
        token = encrypt_secret("s3cr3t")
    with override_settings(encryption_key=f"{new},{old}", data_dir=str(tmp_path)):
        assert decrypt_secret(token) == "s3cr3t"
        fresh = encrypt_secret("x")
    with override_settings(encryption_key=new, data_dir=str(tmp_path)):
        assert decrypt_secret(fresh) == "x"


def test_production_without_a_key_does_not_start() -> None:
    with (
        pytest.raises(SettingsError, match="ENCRYPTION_KEY"),
        override_settings(environment="production", encryption_key=None, api_tokens=["t"]),
    ):
        pass


def test_mask_shows_only_the_last_four_characters_of_long_secrets() -> None:
    assert mask_secret("abcdefghijkl") == "****ijkl"
    assert mask_secret("short") == "****"
