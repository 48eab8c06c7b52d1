"""Settings from the environment (12-factor), built inside the app factory or CLI, not at import."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from nudge.clock import parse_instant
from nudge.errors import ConfigError

DEVELOPMENT_SECRET = "development-only-secret-not-for-real-data"
SMS_PROVIDERS = ("console", "twilio", "notify")
LETTER_PROVIDERS = ("print", "notify")  # print: `nudge letters batch`; notify: sent by dispatch
NOTIFY_API = "https://api.notifications.service.gov.uk"
# A Notify API key: its name, then the service id and the secret key, two UUIDs.
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NOTIFY_KEY = re.compile(rf"(?P<name>.+)-(?P<service_id>{_UUID})-(?P<secret>{_UUID})")
UUID = re.compile(_UUID)
ENVIRONMENTS = ("development", "production")


@dataclass(frozen=True)
class Settings:
    """Every setting Nudge reads; the README's configuration table documents each one."""

    database_url: str
    secret_key: str
    environment: str = "development"
    sms_provider: str = "console"
    letter_provider: str = "print"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str | None = None
    notify_api_key: str | None = None
    notify_sms_template_id: str | None = None
    notify_sms_sender_id: str | None = None
    notify_base_url: str = NOTIFY_API
    notify_callback_token: str | None = None
    public_url: str | None = None
    outbox_dir: Path = Path("outbox")
    fake_callbacks: bool = False
    trust_proxy: bool = False
    contact: str | None = None
    now: datetime | None = None
    # Where guardrail breaches are mailed from and through (nudge/mail.py).
    smtp_url: str | None = None
    mail_from: str | None = None
    auto_migrate: bool | None = None  # None: by environment (see migrates_at_start)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def migrates_at_start(self) -> bool:
        """Whether the web app and the commands upgrade the schema themselves: in development,
        unless told.

        In production the upgrade is its own step (`nudge db upgrade`), run once per release:
        never by several web workers or commands at once, and never as a surprise while the app
        starts or a command runs.
        """
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.environment == "development"

    @property
    def webhook_token(self) -> str:
        """What webhook signatures are made with: Twilio's auth token, else the app's secret.

        The console provider's fake callbacks sign with the same value, so in development
        (no Twilio account) they use NUDGE_SECRET_KEY, or its development default.
        """
        return self.twilio_auth_token or self.secret_key


def default_database_url(cwd: Path | None = None) -> str:
    return f"sqlite:///{(cwd or Path.cwd()) / 'nudge.db'}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the NUDGE_* variables, refusing a default secret outside development."""
    env = os.environ if environ is None else environ
    environment = _choice(env, "NUDGE_ENV", ENVIRONMENTS, "development")
    secret = env.get("NUDGE_SECRET_KEY") or DEVELOPMENT_SECRET
    if environment != "development" and secret == DEVELOPMENT_SECRET:
        raise ConfigError(
            "NUDGE_SECRET_KEY is not set: outside development it must be a long random value "
            "(for example: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    provider = _choice(env, "NUDGE_SMS_PROVIDER", SMS_PROVIDERS, "console")
    letters = _choice(env, "NUDGE_LETTER_PROVIDER", LETTER_PROVIDERS, "print")
    settings = Settings(
        database_url=_database_url(env.get("NUDGE_DATABASE_URL") or default_database_url()),
        secret_key=secret,
        environment=environment,
        sms_provider=provider,
        letter_provider=letters,
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
        twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        twilio_base_url=env.get("NUDGE_TWILIO_BASE_URL") or None,
        notify_api_key=(env.get("NOTIFY_API_KEY") or "").strip() or None,
        notify_sms_template_id=(env.get("NOTIFY_SMS_TEMPLATE_ID") or "").strip().lower() or None,
        notify_sms_sender_id=(env.get("NOTIFY_SMS_SENDER_ID") or "").strip().lower() or None,
        notify_base_url=(env.get("NUDGE_NOTIFY_BASE_URL") or NOTIFY_API).rstrip("/"),
        notify_callback_token=env.get("NOTIFY_CALLBACK_TOKEN") or None,
        public_url=(env.get("NUDGE_PUBLIC_URL") or "").rstrip("/") or None,
        outbox_dir=Path(env.get("NUDGE_OUTBOX_DIR") or "outbox"),
        fake_callbacks=_flag(env, "NUDGE_FAKE_CALLBACKS"),
        trust_proxy=_flag(env, "NUDGE_TRUST_PROXY"),
        contact=(env.get("NUDGE_CONTACT") or "").strip() or None,
        now=_pinned_now(env.get("NUDGE_NOW")),
        auto_migrate=_flag(env, "NUDGE_AUTO_MIGRATE") if env.get("NUDGE_AUTO_MIGRATE") else None,
        smtp_url=env.get("NUDGE_SMTP_URL") or None,
        mail_from=env.get("NUDGE_MAIL_FROM") or None,
    )
    if settings.smtp_url is not None:
        from nudge.mail import parse_smtp_url

        parse_smtp_url(settings.smtp_url)
        if not settings.mail_from:
            raise ConfigError(
                "NUDGE_SMTP_URL is set but NUDGE_MAIL_FROM is not: give the address guardrail "
                "mail comes from (for example nudge@your-service.example)"
            )
    if provider == "twilio" and not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise ConfigError(
            "NUDGE_SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to be set"
        )
    if provider == "notify" or letters == "notify":
        _check_notify(settings, texts=provider == "notify")
    return settings


def _check_notify(settings: Settings, *, texts: bool) -> None:
    """The Notify settings, each refused with what to do: before any text or letter is
    attempted. Letters need only the key (a precompiled letter has no template)."""
    key = settings.notify_api_key
    if texts and not (key and settings.notify_sms_template_id):
        raise ConfigError(
            "NUDGE_SMS_PROVIDER=notify needs NOTIFY_API_KEY and NOTIFY_SMS_TEMPLATE_ID to be set "
            "(the API key from Notify's API integration page; the id of a text message template "
            "whose whole body is ((body)))"
        )
    if not key:
        raise ConfigError(
            "NUDGE_LETTER_PROVIDER=notify needs NOTIFY_API_KEY to be set (the API key from "
            "Notify's API integration page; letters need a live key, not a team key)"
        )
    if not NOTIFY_KEY.fullmatch(key.lower()):
        raise ConfigError(
            "NOTIFY_API_KEY is not a Notify API key: it should be the key's name, then the "
            "service id and the secret, two ids like 8b3a...-...-...-...-..., joined by hyphens; "
            "copy the whole key from Notify's API integration page"
        )
    for name, value in (
        ("NOTIFY_SMS_TEMPLATE_ID", settings.notify_sms_template_id),
        ("NOTIFY_SMS_SENDER_ID", settings.notify_sms_sender_id),
    ):
        if value is not None and not UUID.fullmatch(value):
            raise ConfigError(
                f"{name}={value!r} is not a Notify id: copy it from the template's or text "
                "sender's page in Notify (it looks like 8b3aa916-ec82-434e-b0c5-d5d9b371d6a3)"
            )
    if urlsplit(settings.notify_base_url).scheme not in ("http", "https"):
        raise ConfigError(
            f"NUDGE_NOTIFY_BASE_URL={settings.notify_base_url!r} must start with http:// or "
            "https://"
        )


def _database_url(url: str) -> str:
    # Bare postgresql:// URLs would pick psycopg2, which is not installed; psycopg 3 is.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of: {', '.join(allowed)}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "0").strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no", ""):
        raise ConfigError(f"{name}={value!r} must be 1 or 0")
    return value in ("1", "true", "yes")


def _pinned_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise ConfigError(f"NUDGE_NOW: {exc}") from None
