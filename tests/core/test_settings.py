from __future__ import annotations

import pytest

from omnidesk.core.settings import SettingsError, load_settings


def test_production_refuses_insecure_defaults() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environment="production", debug=True)
    message = str(caught.value)
    assert "OMNIDESK_SECRET_KEY must be set" in message
    assert "OMNIDESK_DEBUG must be false" in message
    assert "OMNIDESK_PUBLIC_URL must be set in production" in message


@pytest.mark.parametrize(
    ("public_url", "problem"),
    [
        (None, "OMNIDESK_PUBLIC_URL must be set in production"),
        ("http://desk.example.com", "OMNIDESK_PUBLIC_URL must be an https:// URL in production"),
        ("desk.example.com", "must be an absolute http(s) URL"),
        ("https://desk.example.com/?next=x", "must be an absolute http(s) URL"),
    ],
)
def test_production_needs_an_absolute_https_public_url(public_url: str | None, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_settings(environment="production", secret_key="k" * 40, public_url=public_url)


def test_each_bad_value_gets_its_own_line() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(port=70000, database_url="mysql://x", log_level="LOUD", redis_url="http://x")
    lines = str(caught.value).splitlines()[1:]
    names = {line.split(":")[0].strip() for line in lines}
    assert names == {"OMNIDESK_PORT", "OMNIDESK_DATABASE_URL", "OMNIDESK_LOG_LEVEL", "OMNIDESK_REDIS_URL"}


def test_production_with_a_secret_starts_and_uses_secure_cookies() -> None:
    settings = load_settings(environment="production", secret_key="k" * 40, public_url="https://desk.example.com/")
    assert settings.secure_cookies
    assert settings.public_url == "https://desk.example.com"
    assert "k" * 40 not in repr(settings)


def test_postgres_urls_use_psycopg() -> None:
    assert load_settings(database_url="postgresql://u@h/db").database_url == "postgresql+psycopg://u@h/db"
