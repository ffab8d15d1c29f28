"""Settings: one class, environment prefix SCRIPTCRON_, errors that name the variable."""

from __future__ import annotations

import pytest

from app.settings import Environment, SettingsError, get_settings, load_settings, override_settings


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRIPTCRON_DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.database_url.startswith("sqlite:///")
    assert settings.effective_redis_url == settings.broker_url


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTCRON_MAX_PARAM_SETS", "42")
    monkeypatch.setenv("SCRIPTCRON_API_TOKENS", "a, b")
    settings = load_settings()
    assert settings.max_param_sets == 42
    assert [t.get_secret_value() for t in settings.api_tokens] == ["a", "b"]


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTCRON_MAX_PARAM_SETS", "many")
    with pytest.raises(SettingsError, match="SCRIPTCRON_MAX_PARAM_SETS"):
        load_settings()


def test_production_requires_an_encryption_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTCRON_ENVIRONMENT", "production")
    monkeypatch.setenv("SCRIPTCRON_API_TOKENS", "t")
    monkeypatch.delenv("SCRIPTCRON_ENCRYPTION_KEY", raising=False)
    with pytest.raises(SettingsError, match="SCRIPTCRON_ENCRYPTION_KEY"):
        load_settings()


def test_override_replaces_the_cached_settings_for_a_block() -> None:
    before = get_settings()
    with override_settings(max_param_sets=7) as inside:
        assert get_settings() is inside
        assert get_settings().max_param_sets == 7
    assert get_settings() is before


def test_secrets_are_not_shown_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(api_tokens=["super-secret-token"], encryption_key="k" * 44)
    assert "super-secret-token" not in repr(settings)
    assert "k" * 44 not in repr(settings)
