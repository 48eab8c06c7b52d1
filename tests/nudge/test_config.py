"""Settings come from the environment; mistakes there are named, and secrets are not defaulted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nudge.clock import FixedClock, SystemClock, clock_from_setting, parse_instant
from nudge.config import DEVELOPMENT_SECRET, load_settings
from nudge.errors import ConfigError


def test_defaults_are_an_embedded_sqlite_file_and_the_console_provider() -> None:
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(
        "nudge.db"
    )
    assert (settings.sms_provider, settings.now, settings.secret_key) == (
        "console",
        None,
        DEVELOPMENT_SECRET,
    )


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ConfigError, match="NUDGE_SECRET_KEY is not set"):
        load_settings({"NUDGE_ENV": "production"})


def test_twilio_needs_its_credentials() -> None:
    with pytest.raises(ConfigError, match="needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
        load_settings({"NUDGE_SMS_PROVIDER": "twilio"})


def test_an_unknown_provider_is_named() -> None:
    with pytest.raises(ConfigError, match="NUDGE_SMS_PROVIDER='pigeon' is not one of"):
        load_settings({"NUDGE_SMS_PROVIDER": "pigeon"})


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    settings = load_settings({"NUDGE_DATABASE_URL": "postgresql://postgres@127.0.0.1/nudge"})
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1/nudge"


def test_nudge_now_pins_the_clock_in_utc() -> None:
    settings = load_settings({"NUDGE_NOW": "2027-03-28T01:30:00+01:00"})
    clock = clock_from_setting(settings.now)
    assert isinstance(clock, FixedClock)
    assert clock.now() == datetime(2027, 3, 28, 0, 30, tzinfo=UTC)


def test_nudge_now_without_an_offset_is_refused() -> None:
    with pytest.raises(ConfigError, match="NUDGE_NOW: '2027-03-28T01:30' has no UTC offset"):
        load_settings({"NUDGE_NOW": "2027-03-28T01:30"})


def test_without_nudge_now_the_clock_is_the_system_clock_in_utc() -> None:
    clock = clock_from_setting(None)
    assert isinstance(clock, SystemClock) and clock.now().tzinfo is UTC


def test_parse_instant_accepts_z() -> None:
    assert parse_instant("2027-01-01T00:00:00Z") == datetime(2027, 1, 1, tzinfo=UTC)


def test_only_development_upgrades_the_database_at_start_unless_told() -> None:
    production = {"NUDGE_ENV": "production", "NUDGE_SECRET_KEY": "x" * 40}
    assert load_settings({}).migrates_at_start
    assert not load_settings(production).migrates_at_start
    assert load_settings({**production, "NUDGE_AUTO_MIGRATE": "1"}).migrates_at_start
    assert not load_settings({"NUDGE_AUTO_MIGRATE": "0"}).migrates_at_start
    with pytest.raises(ConfigError, match="NUDGE_AUTO_MIGRATE='maybe' must be 1 or 0"):
        load_settings({"NUDGE_AUTO_MIGRATE": "maybe"})
